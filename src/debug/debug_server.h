// DebugServer: a program's debug listener (`--debug-listen`) in one object: binds the address,
// serves a DebugHandler on a goroutine of its own and shuts it down. spindle-lb,
// spindle-backend and spindle-load all run one; any spindle program can.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "debug/debug_handler.h"
#include "http/server.h"
#include "net/listener.h"
#include "runtime/channel.h"

namespace spindle::debug {

// The default of every program's --debug-listen (Go's customary pprof port).
inline constexpr const char* kDefaultDebugListen = "127.0.0.1:6060";

class DebugServer {
 public:
  explicit DebugServer(DebugOptions options);
  // shutdown(); from a goroutine if start() ran.
  ~DebugServer();
  DebugServer(const DebugServer&) = delete;
  DebugServer& operator=(const DebugServer&) = delete;

  // Binds `address` ("off": stays off). When it cannot be bound: an error for main() to print
  // if `required` (the address was given explicitly), else a warning in the event log and the
  // server stays off (the default address is taken, e.g. by another instance). From a
  // goroutine.
  base::Result<void, std::string> listen(const std::string& address, bool required);
  bool on() const { return listener_.valid(); }
  // The bound address, or "off".
  std::string address() const;
  DebugHandler& handler() { return handler_; }

  // Serves on a goroutine of its own until shutdown(); nothing when off. Once.
  void start();
  // Stops serving (in-flight answers get a second) and waits for the serving goroutine.
  // Parks. Idempotent.
  void shutdown();

 private:
  DebugHandler handler_;
  net::Listener listener_;
  std::unique_ptr<http::Server> server_;
  runtime::Chan<bool> served_ = runtime::make_chan<bool>(1);
  bool running_ = false;
};

}  // namespace spindle::debug
