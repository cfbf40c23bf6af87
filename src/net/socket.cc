// Sockets that park the goroutine instead of blocking the thread.
//
// Every socket in src/net is non-blocking (SOCK_NONBLOCK | SOCK_CLOEXEC, accept4) and
// registered once with the netpoller (runtime/netpoll.h, edge-triggered). An operation is a
// loop, as in Go's internal/poll:
//
//   1. If the mode's deadline has passed (the poller's timer fired, or it was set in the past:
//      runtime::poll_deadline_expired, no clock read), fail with kTimeout even if data is ready.
//   2. Make the system call. Success: return. EINTR: retry. Other errors: return them.
//   3. EAGAIN: poll_wait(pd, mode) parks the goroutine (no thread is held) until the fd may
//      be ready (kReady: back to 2), the deadline passes (kTimeout) or the socket is being
//      closed (kClosed).
//
// References (Go's fdMutex, reduced). Another goroutine may close a socket while one is
// parked in read(), or is between two system calls of write(). The fd must not be closed (and
// its number reused by an unrelated socket) nor the PollDesc freed while an operation still
// uses them. So state_ packs a closed bit, a "reading" and a "writing" bit, and a reference
// count:
//
//   1. The owner holds one reference from open() until close().
//   2. An operation takes a reference with a CAS that fails if the closed bit is set, so no
//      reference is ever taken after close(); read and accept also set kReading, write and
//      connect kWriting. Finding the bit already set means two goroutines read (or write) one
//      socket at once: the poller has one waiter slot per mode, so this is a fatal misuse.
//   3. close() sets the closed bit (a second close fails with kClosed), calls poll_evict so
//      parked and future waits return kClosed, and drops the owner's reference.
//   4. Whoever drops the last reference (the closer, or the last operation to return) calls
//      poll_close and close(2). Read hook calls and deadline changes hold a reference as well:
//      poll_close recycles the PollDesc for the next socket. Hence close() does not wait: the fd is
//      released as soon as the woken operations have unwound, which for a parked reader is its next
//      time on a CPU.
//
// Deadlines are absolute TimePoints stored here (for dial and the EMFILE back-off) and handed
// to the poller (poll_set_deadline), which wakes a parked operation when they pass or change,
// and whose expired flag step 1 reads. A deadline that passed stays passed: every later operation
// in that mode fails with kTimeout until a new deadline is set, as in Go.
//
// Drained reads (nginx's trick; Go pays the EAGAIN). A reader clears the poller's read token
// (runtime::poll_consume_ready) just before read(2). If the read returns fewer bytes than it
// asked for, the socket's receive queue was empty at that moment, and any byte arriving later
// produces a new edge that sets the token again; so the next read parks (or finds the token
// set) without first paying for a read(2) that fails with EAGAIN. For a keep-alive connection
// that is one system call saved per request on each side of a proxy. (A TCP read also stops
// short at an urgent-data mark; a peer sending urgent data can only stall its own connection
// until its deadline.) End of stream and errors repeat without new edges, so neither a read of
// 0 nor a short read after the poller reported a hang-up (runtime::poll_hangup_seen: the FIN
// or reset may be queued behind the bytes just read) counts as drained.
//
// Writes go through send/sendmsg with MSG_NOSIGNAL: a peer that has gone away is an EPIPE
// value, never a SIGPIPE that kills the process.
//
// Rejected: a mutex per direction (Go serialises concurrent readers with fdMutex; one reader
// and one writer per connection is the only pattern http and lb need, so we check instead of
// queueing); close() waiting for operations to unwind (needs a semaphore per socket, and
// nothing here depends on close(2) having happened by the time close() returns).
#include "net/socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "base/check.h"

namespace spindle::net::internal {
namespace {

using base::TimePoint;
using runtime::PollMode;
using runtime::PollStatus;

int64_t to_ticks(TimePoint t) {
  if (t == TimePoint::max()) return INT64_MAX;
  return t.time_since_epoch().count();
}

TimePoint from_ticks(int64_t ticks) {
  if (ticks == INT64_MAX) return TimePoint::max();
  return base::from_ns(ticks);
}

}  // namespace

Result<std::unique_ptr<Socket>> Socket::open(int fd, const char* op) {
  int err = 0;
  runtime::PollDesc* pd = runtime::poll_open(fd, &err);
  if (pd == nullptr) {
    ::close(fd);
    return Error::from_errno(err, op);
  }
  return std::unique_ptr<Socket>(new Socket(fd, pd));
}

Socket::~Socket() {
  if (!closed()) (void)close("close");
  SPINDLE_CHECK(state_.load() == kClosedBit,
                "a socket (Conn or Listener) was destroyed while an operation was in progress");
}

bool Socket::acquire(uint64_t mode) {
  uint64_t s = state_.load(std::memory_order_relaxed);
  do {
    if (s & kClosedBit) return false;
    if (s & mode) {
      SPINDLE_FATAL(mode == kReading
                        ? "two goroutines read (or accept) on one socket at the same time"
                        : "two goroutines write (or connect) on one socket at the same time");
    }
  } while (!state_.compare_exchange_weak(s, (s | mode) + kRef, std::memory_order_acquire,
                                         std::memory_order_relaxed));
  return true;
}

void Socket::release(uint64_t mode) {
  uint64_t s = state_.fetch_sub(mode + kRef, std::memory_order_acq_rel) - (mode + kRef);
  if (s == kClosedBit) destroy();
}

void Socket::destroy() {
  runtime::poll_close(pd_);
  ::close(fd_);  // Linux releases the fd even when close(2) reports EINTR: never retry
}

Result<void> Socket::close(const char* op) {
  uint64_t s = state_.fetch_or(kClosedBit, std::memory_order_acq_rel);
  if (s & kClosedBit) return Error::closed(op);
  runtime::poll_evict(pd_);
  release(0);
  return {};
}

// The three below touch the PollDesc under an operation reference, like every operation: a
// close from another goroutine (a server's shutdown) could otherwise run to its end meanwhile,
// and poll_close recycle the PollDesc for another socket, which would then get this hook (or
// lose its own to our disarm).
bool Socket::maybe_readable() {
  if (!drained_) return true;
  OpRef ref(this, 0);
  return !ref || runtime::poll_ready_pending(pd_, PollMode::kRead);
}

bool Socket::arm_read_hook(runtime::PollHook* hook) {
  OpRef ref(this, 0);
  return ref && runtime::poll_arm_read_hook(pd_, hook);
}

// Closed: close() has started an armed hook (poll_evict), or is about to, so fn has been taken.
bool Socket::disarm_read_hook() {
  OpRef ref(this, 0);
  return ref && runtime::poll_disarm_read_hook(pd_);
}

bool Socket::deadline_passed(PollMode mode) const {
  return runtime::poll_deadline_expired(pd_, mode);  // the poller's timer says so: no clock read
}

Result<void> Socket::wait(PollMode mode, const char* op) {
  switch (runtime::poll_wait(pd_, mode)) {
    case PollStatus::kReady:
      return {};
    case PollStatus::kTimeout:
      return Error::timeout(op);
    case PollStatus::kClosed:
      return Error::closed(op);
  }
  return {};
}

Result<size_t> Socket::read(char* buf, size_t len) {
  OpRef ref(this, kReading);
  if (!ref) return Error::closed("read");
  if (deadline_passed(PollMode::kRead)) return Error::timeout("read");
  if (drained_ && len > 0) {
    if (auto w = wait(PollMode::kRead, "read"); !w) return w.error();
    drained_ = false;
  }
  for (;;) {
    runtime::poll_consume_ready(pd_, PollMode::kRead);
    ssize_t n = ::read(fd_, buf, len);
    if (n >= 0) {
      drained_ = n > 0 && static_cast<size_t>(n) < len && !runtime::poll_hangup_seen(pd_);
      return static_cast<size_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Error::from_errno(errno, "read");
    if (auto w = wait(PollMode::kRead, "read"); !w) return w.error();
  }
}

Result<size_t> Socket::write(const char* buf, size_t len) {
  OpRef ref(this, kWriting);
  if (!ref) return Error::closed("write");
  if (deadline_passed(PollMode::kWrite)) return Error::timeout("write");
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::send(fd_, buf + done, len - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Error::from_errno(errno, "write");
    if (auto w = wait(PollMode::kWrite, "write"); !w) return w.error();
  }
  return done;
}

Result<size_t> Socket::writev(iovec* iov, int count) {
  OpRef ref(this, kWriting);
  if (!ref) return Error::closed("writev");
  if (deadline_passed(PollMode::kWrite)) return Error::timeout("writev");
  size_t done = 0;
  while (count > 0) {
    if (iov->iov_len == 0) {  // skip empty entries (and those a short write finished)
      ++iov;
      --count;
      continue;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count < IOV_MAX ? count : IOV_MAX);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return Error::from_errno(errno, "writev");
      if (auto w = wait(PollMode::kWrite, "writev"); !w) return w.error();
      continue;
    }
    done += static_cast<size_t>(n);
    for (size_t left = static_cast<size_t>(n); left > 0;) {  // consume what was written
      size_t take = left < iov->iov_len ? left : iov->iov_len;
      iov->iov_base = static_cast<char*>(iov->iov_base) + take;
      iov->iov_len -= take;
      left -= take;
      if (iov->iov_len == 0) {
        ++iov;
        --count;
      }
    }
  }
  return done;
}

Result<int> Socket::accept(sockaddr_storage* sa, socklen_t* len) {
  OpRef ref(this, kReading);
  if (!ref) return Error::closed("accept");
  if (deadline_passed(PollMode::kRead)) return Error::timeout("accept");
  for (;;) {
    *len = sizeof *sa;
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(sa), len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return fd;
    // ECONNABORTED: the peer reset a connection still in the queue; take the next one.
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN) return Error::from_errno(errno, "accept");
    if (auto w = wait(PollMode::kRead, "accept"); !w) return w.error();
  }
}

Result<void> Socket::wait_connected(TimePoint deadline) {
  OpRef ref(this, kWriting);
  if (!ref) return Error::closed("dial");
  runtime::poll_set_deadline(pd_, PollMode::kWrite, deadline);
  Result<void> result;
  for (;;) {
    if (auto w = wait(PollMode::kWrite, "dial"); !w) {
      result = w.error();
      break;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0) {
      // Spurious readiness is possible: connected only once the kernel has a peer.
      sockaddr_storage peer;
      socklen_t plen = sizeof peer;
      if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) break;
      if (errno == ENOTCONN) continue;
      err = errno;
    }
    if (err != EINPROGRESS && err != EALREADY && err != EINTR) {
      result = Error::from_errno(err, "dial");
      break;
    }
  }
  runtime::poll_set_deadline(pd_, PollMode::kWrite, from_ticks(write_deadline_.load()));
  return result;
}

Result<void> Socket::wait_read_until(TimePoint until) {
  OpRef ref(this, kReading);
  if (!ref) return Error::closed("accept");
  TimePoint user = from_ticks(read_deadline_.load(std::memory_order_relaxed));
  bool user_first = user < until;
  runtime::poll_set_deadline(pd_, PollMode::kRead, user_first ? user : until);
  Result<void> result;
  for (;;) {
    PollStatus st = runtime::poll_wait(pd_, PollMode::kRead);
    if (st == PollStatus::kClosed) {
      result = Error::closed("accept");
      break;
    }
    if (st == PollStatus::kTimeout) {
      if (user_first) result = Error::timeout("accept");
      break;
    }
    // kReady: another connection arrived; keep backing off until `until`.
  }
  runtime::poll_set_deadline(pd_, PollMode::kRead, user);
  return result;
}

Result<void> Socket::set_read_deadline(TimePoint t) {
  OpRef ref(this, 0);
  if (!ref) return Error::closed("set deadline");
  read_deadline_.store(to_ticks(t), std::memory_order_relaxed);
  runtime::poll_set_deadline(pd_, PollMode::kRead, t);
  return {};
}

Result<void> Socket::set_write_deadline(TimePoint t) {
  OpRef ref(this, 0);
  if (!ref) return Error::closed("set deadline");
  write_deadline_.store(to_ticks(t), std::memory_order_relaxed);
  runtime::poll_set_deadline(pd_, PollMode::kWrite, t);
  return {};
}

}  // namespace spindle::net::internal
