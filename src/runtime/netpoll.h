// The network poller's interface: a goroutine waiting for a file descriptor parks here and holds
// no thread. Readiness (edge-triggered epoll) makes it runnable. src/net builds sockets on it.
// Design (sharded epoll instances, one poller at a time, stealing readiness): the comment at
// the top of netpoll.cc and docs/runtime.md, "Netpoller".
#pragma once

#include "base/task.h"
#include "base/time.h"

namespace spindle::runtime {

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
void poll_set_deadline(PollDesc* pd, PollMode mode, base::TimePoint deadline);
// True once the mode's deadline has passed (as the runtime's timer saw it, or at once when set
// in the past) and until a new deadline is set: no clock read (Go's pd.rd < 0).
bool poll_deadline_expired(const PollDesc* pd, PollMode mode);
// Marks pd as about to be closed: current and future waits return kClosed (Go's evict).
void poll_evict(PollDesc* pd);

// Readiness as a token (nginx's "ready" flag). The poller sets a mode's token when epoll
// reports it and nobody is parked; poll_wait consumes it. A reader that clears it just before
// read(2) and gets fewer bytes than it asked for knows the socket is drained: any byte that
// arrives later sets the token again, so it can park at once next time instead of paying for
// a read that fails with EAGAIN (net::internal::Socket::read).
void poll_consume_ready(PollDesc* pd, PollMode mode);
// True if readiness for `mode` was reported since it was last consumed. No system call.
bool poll_ready_pending(const PollDesc* pd, PollMode mode);
// True once the poller reported a hang-up or error (EPOLLRDHUP, EPOLLHUP, EPOLLERR). Such a
// state produces no further edges, so a short read no longer proves the next one would wait:
// the end of stream or the error may be queued behind the bytes just read. Set before the
// read token (so a reader that consumed the token sees it).
bool poll_hangup_seen(const PollDesc* pd);

// A goroutine started by the poller when read readiness (data, end of stream, error) arrives
// for an fd that no goroutine is reading, or when the fd is closed (poll_evict/poll_close): a
// disconnect watcher that costs nothing unless the peer does something
// (http::Request::disconnect). `fn` is moved into the new goroutine.
struct PollHook {
  base::Task fn;
};
// Arms `hook` on pd (one at a time; nobody may be parked reading pd). Returns false, and arms
// nothing, when read readiness is already pending: the caller starts hook->fn itself.
bool poll_arm_read_hook(PollDesc* pd, PollHook* hook);
// Disarms: true if the hook had not fired (hook->fn was not started); false if the poller has
// taken it, in which case hook->fn has been moved out and is starting or running.
bool poll_disarm_read_hook(PollDesc* pd);

}  // namespace spindle::runtime
