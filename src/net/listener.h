// Listener: a listening stream socket (TCP or Unix) whose accept() parks the calling goroutine.
// Running out of file descriptors (EMFILE, ENFILE) does not stop it: accept backs off and
// keeps serving once descriptors are freed. Design: docs/net.md, "Accept and EMFILE".
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.h"
#include "net/conn.h"
#include "net/error.h"

namespace spindle::net {

struct ListenOptions {
  int backlog = 4096;         // listen(2) backlog; the kernel caps it at net.core.somaxconn
  bool reuse_address = true;  // SO_REUSEADDR (TCP): rebind while old connections linger
  bool reuse_port = false;    // SO_REUSEPORT: several listeners share the port
};

// Accept back-off after a resource error (Go's net/http Server.Serve): 5 ms doubling to 1 s.
inline constexpr base::Duration kAcceptBackoffMin = std::chrono::milliseconds(5);
inline constexpr base::Duration kAcceptBackoffMax = std::chrono::seconds(1);

// Move-only; the destructor closes it (and removes a Unix socket file it created). Methods
// must be called from a goroutine. One goroutine accepts at a time (two is a fatal misuse);
// any goroutine may close() it, which wakes a parked accept() with a kClosed error.
class Listener {
 public:
  Listener();
  ~Listener();
  Listener(Listener&&) noexcept;
  Listener& operator=(Listener&&) noexcept;

  bool valid() const { return state_ != nullptr; }

  // The next connection (non-blocking, close-on-exec, TCP_NODELAY on for TCP). Parks while
  // none is pending. On EMFILE, ENFILE, ENOBUFS or ENOMEM it does not return: it waits 5 ms
  // (doubling up to 1 s while the shortage lasts), logs one stderr line per burst, counts,
  // and tries again; close() or the accept deadline end the wait. Other errors are returned.
  Result<Conn> accept();
  // Stops listening; a parked accept() wakes with kClosed. A second close fails with kClosed.
  Result<void> close();
  // Deadline for accept() (base::TimePoint::max(): none), like Go's TCPListener.SetDeadline.
  Result<void> set_deadline(base::TimePoint t);

  // The bound address: the actual port when listening on port 0.
  const Address& address() const;
  int fd() const;
  // Back-off waits taken after resource errors, on this listener and in the whole process.
  uint64_t backoffs() const;
  static uint64_t total_backoffs();

  struct State;  // internal

 private:
  friend Result<Listener> listen(const Address&, const ListenOptions&);
  explicit Listener(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Binds and listens. TCP: SO_REUSEADDR per options, IPV6_V6ONLY off for "[::]". Unix: a stale
// socket file at the path (no one accepting on it) is removed first; any other file there
// makes listen fail with EADDRINUSE.
Result<Listener> listen(const Address& addr, const ListenOptions& options = {});
Result<Listener> listen(std::string_view address, const ListenOptions& options = {});

// n TCP listeners bound to the same address with SO_REUSEPORT (the kernel spreads incoming
// connections over them): one per processor lets each accept loop run on its own. Port 0
// picks one free port for all.
Result<std::vector<Listener>> listen_reuseport(const Address& addr, int n,
                                               ListenOptions options = {});

}  // namespace spindle::net
