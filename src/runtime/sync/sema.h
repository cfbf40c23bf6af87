// Sema: a counting semaphore for the runtime's own use (Go's runtime semacquire/semrelease),
// the slow path under Mutex, RWMutex and WaitGroup. Unlike Go's, each Sema owns its wait
// queue instead of hashing its address into a shared table. Internal to src/runtime/sync/.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/goroutine.h"
#include "runtime/sync/wait_queue.h"

namespace spindle::runtime::sync_internal {

class Sema {
 public:
  Sema() = default;
  Sema(const Sema&) = delete;
  Sema& operator=(const Sema&) = delete;

  // Waits until the count is positive, then decrements it. Parks with `reason` if it must
  // wait; that needs a goroutine (fatal naming `what` otherwise). lifo queues the caller at
  // the head: for a mutex waiter that already waited once (Go's queueLifo).
  void acquire(WaitReason reason, bool lifo, const char* what);
  // Increments the count and wakes the first waiter, if any. handoff: the count goes straight
  // to that waiter, and a calling goroutine yields so the waiter runs now (starving mutexes).
  void release(bool handoff);

 private:
  bool try_take();

  std::atomic<uint32_t> count_{0};
  // Goroutines queued or about to queue; equal to the queue length while queue_ is locked.
  // Lets release() skip the lock when nobody waits.
  std::atomic<uint32_t> nwait_{0};
  WaitQueue queue_;
};

}  // namespace spindle::runtime::sync_internal
