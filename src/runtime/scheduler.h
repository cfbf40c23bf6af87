// The scheduler's interface to the rest of the runtime: parking and readying goroutines.
// Channels, select, sync primitives, timers and the netpoller are built on park() and ready().
// The scheduler itself (Scheduler and its parts) is described at the top of scheduler.cc.
#pragma once

#include <cstdint>

#include "runtime/goroutine.h"

namespace spindle::runtime {

// The running goroutine. Fatal (a clear "called from outside a goroutine" message naming
// `what`) when the calling thread is not running a goroutine.
Goroutine* current(const char* what);

// Called on the scheduler's stack after the parking goroutine has been switched out (Go's
// gopark unlockf). It typically releases the lock that protects the wait queue the goroutine
// was added to. Returning false resumes the goroutine immediately instead of parking it.
using UnlockFn = bool (*)(Goroutine* g, void* arg);

// Parks the calling goroutine with `reason` until some other party calls ready(g). `unlock`
// (may be null) runs after the switch, so a waker that holds the same lock cannot ready g
// before it has stopped running. Only the calling goroutine may park itself.
void park(WaitReason reason, UnlockFn unlock, void* arg);

// Makes a parked goroutine runnable: into the caller's P runnext slot (the woken goroutine
// runs next, as in Go), or the global run queue when the caller has no P; wakes an idle P if
// no thread is spinning. Callable from goroutines and from runtime threads.
// `next` (the default) puts it in runnext, as Go's goready does; false appends it to the
// queue's tail, keeping FIFO order among goroutines readied together (timers).
void ready(Goroutine* g, bool next = true);

// Whether a goroutine waiting for a lock should spin once more instead of parking (Go's
// sync_runtime_canSpin): only a few iterations, only with more than one CPU and processor,
// while other processors are running and the caller's local run queue is empty.
bool can_spin(int iteration);
// Spin hint for the iterations can_spin allows (a few dozen PAUSE instructions).
void spin_pause();

// Per-thread fast random numbers (wyrand): select's case order, stealing order.
uint32_t fastrand();
// Uniform in [0, n).
uint32_t fastrandn(uint32_t n);

}  // namespace spindle::runtime
