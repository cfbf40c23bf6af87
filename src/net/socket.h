// Socket: a non-blocking file descriptor registered with the netpoller, with the read/write/
// accept/connect loops that park the calling goroutine on EAGAIN (Go's netFD and poll.FD).
// Internal to src/net: Conn and Listener are the public faces. The protocol (reference counts,
// close while parked, deadlines) is the comment at the top of socket.cc.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/error.h"
#include "runtime/netpoll.h"

namespace spindle::net::internal {

class Socket {
 public:
  // Takes ownership of fd (non-blocking, close-on-exec) and registers it with the poller.
  // On failure the fd is closed and the error returned. Must be called from a goroutine.
  static Result<std::unique_ptr<Socket>> open(int fd, const char* op);
  // Closes the socket if close() was not called. No operation may be in progress (fatal).
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const { return fd_; }
  bool closed() const { return state_.load(std::memory_order_acquire) & kClosedBit; }

  // One read(2) worth: bytes read, 0 at end of stream. Parks while nothing is readable.
  Result<size_t> read(char* buf, size_t len);
  // Writes all of buf (parking while the send buffer is full); the byte count on success.
  Result<size_t> write(const char* buf, size_t len);
  // Writes all of iov[0..count), consuming the array as it goes (entries are modified).
  Result<size_t> writev(iovec* iov, int count);
  // accept4(2): the new fd (non-blocking, close-on-exec) and the peer's address in *sa/*len.
  // Parks while no connection is pending. The raw errno comes back on failure (EMFILE...).
  Result<int> accept(sockaddr_storage* sa, socklen_t* len);
  // After connect(2) returned EINPROGRESS: parks until the connection completes or fails
  // (SO_ERROR), or `deadline` passes (kTimeout).
  Result<void> wait_connected(base::TimePoint deadline);
  // Parks the reader slot until `until` (or the read deadline, if earlier) or close(): the
  // listener's back-off after EMFILE. Ok when `until` passed; kTimeout or kClosed otherwise.
  Result<void> wait_read_until(base::TimePoint until);

  // False only when the last read drained the socket and the poller reported nothing since:
  // a read would fail with EAGAIN and a peek would see nothing (no system call). Call it only
  // while no read is in progress.
  // True once closed (a read reports it at once).
  bool maybe_readable();
  // The poller starts hook->fn when the socket turns readable (runtime::poll_arm_read_hook), or
  // when it is closed: false if it is readable or closed already (nothing armed; start it
  // yourself). No read may be in progress until disarm_read_hook() or fn's goroutine reads.
  bool arm_read_hook(runtime::PollHook* hook);
  // True if the hook had not fired; false if fn was taken (its goroutine starts or runs), which
  // a close does to an armed hook.
  bool disarm_read_hook();

  // Absolute deadlines (base::TimePoint::max(): none). Operations parked now see the change.
  Result<void> set_read_deadline(base::TimePoint t);
  Result<void> set_write_deadline(base::TimePoint t);

  // Runs fn(fd) under an operation reference (so the fd cannot be closed under it): for
  // shutdown, setsockopt, getsockname. Returns kClosed if the socket is closed.
  template <typename F>
  Result<void> with_fd(const char* op, F&& fn);

  // Marks the socket closed, wakes parked operations with kClosed, and closes the fd once
  // the last operation in progress has returned. Any goroutine; a second call fails (kClosed).
  Result<void> close(const char* op);

 private:
  Socket(int fd, runtime::PollDesc* pd) : fd_(fd), pd_(pd) {}
  // state_: kClosedBit | kReading | kWriting | references * kRef. The owner holds one
  // reference until close(); each operation in progress holds one more. See socket.cc.
  static constexpr uint64_t kClosedBit = 1;
  static constexpr uint64_t kReading = 2;
  static constexpr uint64_t kWriting = 4;
  static constexpr uint64_t kRef = 8;
  bool acquire(uint64_t mode);
  void release(uint64_t mode);
  void destroy();
  class OpRef;
  friend class OpRef;
  // Wait for mode after EAGAIN; an error for kTimeout / kClosed.
  Result<void> wait(runtime::PollMode mode, const char* op);
  bool deadline_passed(runtime::PollMode mode) const;

  const int fd_;
  runtime::PollDesc* const pd_;
  std::atomic<uint64_t> state_{kRef};
  // The last read returned fewer bytes than asked after the read token was consumed: the
  // socket was empty then, so the next read waits for readiness first (see read()). Only the
  // reader touches it (kReading makes readers exclusive).
  bool drained_ = false;
  // Deadlines as base::Clock ticks since the epoch, INT64_MAX for none: checked before each
  // operation so an expired deadline fails even when data is ready (Go's semantics).
  std::atomic<int64_t> read_deadline_{INT64_MAX};
  std::atomic<int64_t> write_deadline_{INT64_MAX};
};

// An operation's reference; false when the socket is closed. See "References" in socket.cc.
class Socket::OpRef {
 public:
  OpRef(Socket* s, uint64_t mode) : s_(s), mode_(mode), ok_(s->acquire(mode)) {}
  ~OpRef() {
    if (ok_) s_->release(mode_);
  }
  OpRef(const OpRef&) = delete;
  OpRef& operator=(const OpRef&) = delete;
  explicit operator bool() const { return ok_; }

 private:
  Socket* s_;
  uint64_t mode_;
  bool ok_;
};

template <typename F>
Result<void> Socket::with_fd(const char* op, F&& fn) {
  OpRef ref(this, 0);
  if (!ref) return Error::closed(op);
  if (fn(fd_) < 0) return Error::from_errno(errno, op);
  return {};
}

}  // namespace spindle::net::internal
