// Conn: a connected stream socket (TCP or Unix) whose reads and writes park the calling
// goroutine instead of blocking its thread, with per-direction deadlines; dial() makes one.
// Listener (listener.h) accepts them. Design: docs/net.md; protocol: the top of socket.cc.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "base/time.h"
#include "net/address.h"
#include "net/error.h"
#include "runtime/netpoll.h"

namespace spindle::net {

namespace internal {
class Socket;
}

// A timeout that never passes (dial, and the HTTP timeouts that are off).
inline constexpr base::Duration kNoTimeout = base::Duration::max();

enum class ShutdownHow { kRead, kWrite, kBoth };

// Move-only owner of one connection; the destructor closes it. Every method must be called
// from a goroutine. Concurrency contract: one goroutine may read while another writes, and any
// goroutine may close() (waking both with a kClosed error) or set deadlines at any time; two
// goroutines reading (or writing) at once is a fatal misuse. Destroying a Conn while another
// goroutine is still inside one of its methods is also fatal. A default-constructed or
// moved-from Conn has no socket: its operations fail with kClosed.
class Conn {
 public:
  Conn();
  ~Conn();
  Conn(Conn&&) noexcept;
  Conn& operator=(Conn&&) noexcept;  // closes the connection held before

  bool valid() const { return socket_ != nullptr; }

  // Reads what is available, parking until at least one byte is: the byte count, 0 at end of
  // stream (the peer shut down its write side) or when buf is empty.
  Result<size_t> read(std::span<char> buf);
  // Fills buf completely. End of stream first: kEof before any byte, kUnexpectedEof after.
  Result<void> read_full(std::span<char> buf);
  // Writes all of data (Go's Write): parks while the send buffer is full; partial writes are
  // retried. On failure some prefix of data may have been sent.
  Result<size_t> write(std::string_view data);
  // Writes all parts in order with as few sendmsg calls as the kernel allows (gathering).
  Result<size_t> writev(std::span<const std::string_view> parts);

  // shutdown(2): kWrite sends FIN (the peer reads end of stream), kRead discards further input.
  Result<void> shutdown(ShutdownHow how);
  // Closes now; a goroutine parked in read or write wakes with kClosed. A second close fails.
  Result<void> close();

  // Absolute deadlines, base::TimePoint::max() for none. An operation in progress or parked sees a
  // new deadline; once passed, every operation in that direction fails with a timeout() error
  // until the deadline is moved.
  Result<void> set_deadline(base::TimePoint t);
  Result<void> set_read_deadline(base::TimePoint t);
  Result<void> set_write_deadline(base::TimePoint t);

  // Readiness without a system call, for pools and watchers (see internal::Socket): false
  // only when the last read emptied the receive queue and nothing arrived since (so a peek
  // would find nothing: the peer has neither sent nor closed). True without a socket.
  bool maybe_readable() const;
  // Starts hook->fn in a new goroutine when the connection turns readable (data, end of stream
  // or error) — a disconnect watcher that costs nothing until the peer acts. Returns false,
  // arming nothing, if it is readable already (then start fn yourself) or there is no socket.
  // Nobody may read until disarm_read_hook() returned true or fn's goroutine took over.
  bool arm_read_hook(runtime::PollHook* hook);
  // True if the hook was disarmed before it fired; false if fn was started (or is starting).
  bool disarm_read_hook();

  // TCP_NODELAY; on by default for TCP (as in Go): small writes go out at once.
  Result<void> set_nodelay(bool on);
  Result<Address> local_address() const;
  const Address& peer_address() const { return peer_; }
  int fd() const;  // -1 without a socket; for socket options not wrapped here

  // Internal: wraps an open socket (Listener::accept and dial).
  Conn(std::unique_ptr<internal::Socket> socket, Address peer);

 private:
  Error annotate(Error e) const;

  std::unique_ptr<internal::Socket> socket_;
  Address peer_;
};

// Connects to addr (TCP or Unix). A non-blocking connect(2); then parks until it completes,
// fails (ECONNREFUSED, ...) or `timeout` passes (timeout() error).
Result<Conn> dial(const Address& addr, base::Duration timeout = kNoTimeout);
// Dials "host:port" (a literal, or a name resolved with resolve()) or a Unix path, trying each
// resolved address in order until one connects; `timeout` covers resolution and all attempts.
Result<Conn> dial(std::string_view address, base::Duration timeout = kNoTimeout);

// Creates a non-blocking, close-on-exec stream socket of addr's family (internal).
Result<int> open_stream_socket(const Address& addr, const char* op);

}  // namespace spindle::net
