// The network poller's interface: a goroutine waiting for a file descriptor parks here and holds
// no thread. Readiness (edge-triggered epoll) makes it runnable. src/net builds sockets on it.
// Design (sharded epoll instances, one poller at a time, stealing readiness): the comment at
// the top of netpoll.cc and docs/runtime.md, "Netpoller".
#pragma once

#include <chrono>

namespace spindle::runtime {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class PollMode { kRead, kWrite };
enum class PollStatus {
  kReady,    // the fd may be ready: retry the operation (EAGAIN means wait again)
  kTimeout,  // the mode's deadline passed
  kClosed,   // poll_close was called (another goroutine closed the socket)
};
const char* to_string(PollStatus s);

// Per-fd poller state (Go's pollDesc). Owned by the socket that opened it.
class PollDesc;

// Registers a non-blocking fd for read and write readiness (once, edge-triggered). Returns null
// and sets *err to an errno value on failure. Must be called from a goroutine.
PollDesc* poll_open(int fd, int* err);
// Unregisters the fd and frees pd: goroutines parked on it wake with kClosed first. The caller
// closes the fd afterwards. Callable from any goroutine, once.
void poll_close(PollDesc* pd);
// Parks the caller until the fd is ready for `mode` (or was ready since the last wait), the
// mode's deadline passes, or pd is being closed. One waiter per mode at a time.
PollStatus poll_wait(PollDesc* pd, PollMode mode);
// Sets the deadline of `mode` (TimePoint::max(): none). A deadline in the past makes the
// current and future waits return kTimeout at once; a waiter already parked sees the change.
void poll_set_deadline(PollDesc* pd, PollMode mode, TimePoint deadline);
// Marks pd as about to be closed: current and future waits return kClosed (Go's evict).
void poll_evict(PollDesc* pd);

}  // namespace spindle::runtime
