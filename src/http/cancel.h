// Cancel: stops an exchange of the HTTP client (client.h) from another goroutine. A caller
// cancels by hand, or hands the client the one a server's Request carries, which fires when
// that request's client goes away (server.h, Request::disconnect): the client arms it once
// it has sent the request whole, and a proxy then only sees kCanceled. Design: docs/http.md,
// "Client disconnects".
#pragma once

#include <atomic>

#include "net/conn.h"
#include "runtime/sync/mutex.h"

namespace spindle::http {

class Cancel {
 public:
  Cancel() = default;
  Cancel(const Cancel&) = delete;
  Cancel& operator=(const Cancel&) = delete;
  virtual ~Cancel() = default;

  // Any goroutine, any number of times: closes the connection the exchange is on, so the
  // goroutines parked in its write or read wake, and the client reports kCanceled. Sticky: a
  // later attempt of the same request is not started.
  void cancel();
  bool canceled() const { return canceled_.load(std::memory_order_acquire); }

  // Client side: the connection the request is on now (nullptr: none). False if canceled.
  bool attach(net::Conn* c);
  // Client side: the request has been sent whole (the body's last byte written), on the
  // goroutine that wrote it (the caller's, or the body writer's of a duplex exchange); once per
  // attempt. A Cancel that can watch only from then on starts here (a server's client
  // connection, whose read side the request body held until its end); this one needs nothing.
  virtual void arm() {}

 protected:
  // Ready for the next request: not canceled, nothing attached. Only while no exchange uses it.
  void reset();

 private:
  std::atomic<bool> canceled_{false};
  runtime::Mutex mu_;
  net::Conn* conn_ GUARDED_BY(mu_) = nullptr;
};

}  // namespace spindle::http
