// Registration with spindle-lb (or the Go LB): POST /_lb/register, heartbeats at the interval
// the LB returned, a new registration after a 404 heartbeat (the LB forgot us: it restarted or
// expired us), retries with back-off while the LB is down, and a deregistration at shutdown.
// Protocol: docs/lb-reference.md, "spindle-backend".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/log.h"
#include "base/result.h"
#include "http/client.h"
#include "runtime/channel.h"

namespace spindle::backend {

struct RegistrationOptions {
  std::string lb;         // "host:port" of the balancer
  std::string advertise;  // the URL the LB proxies to: "http://host:port"
  std::string name;
  std::string token;  // sent as "Authorization: Bearer TOKEN" when not empty
};

struct UrlError {
  std::string message;
};
// "http://host:port" (a trailing "/" allowed) → "host:port"; what is wrong otherwise.
base::Result<std::string, UrlError> lb_address(std::string_view url);

// Owned by the goroutine that calls run(); deregister() after run() returned.
class Registration {
 public:
  explicit Registration(RegistrationOptions options);
  // Registers and heartbeats until `stop` is closed. Parks; logs every failure.
  void run(runtime::Chan<bool> stop);
  // One POST /_lb/deregister (best effort: logged on failure); nothing if never registered.
  void deregister();

  // Back-off while the LB cannot be reached: 100 ms doubling to 5 s.
  static constexpr std::chrono::milliseconds kBackoffMin{100};
  static constexpr std::chrono::milliseconds kBackoffMax{5000};

 private:
  struct Reply {
    int status = 0;
    std::string body;
  };
  http::Result<Reply> post(std::string_view path, const std::string& json);
  // The heartbeat interval the LB asked for, or an error message.
  base::Result<std::chrono::milliseconds, std::string> register_once();
  // One event line naming this backend.
  void note(base::log::Level level, const std::string& what);

  const RegistrationOptions options_;
  http::Client client_;
  bool ever_registered_ = false;
};

}  // namespace spindle::backend
