// Sema: a counting semaphore for the runtime's own use (Go's runtime semacquire/semrelease),
// the slow path under Mutex, RWMutex and WaitGroup. Unlike Go's, each Sema owns its wait
// queue instead of hashing its address into a shared table. Internal to src/runtime/sync/.
#pragma once

#include <cstdint>

#include "base/thread_annotations.h"
#include "runtime/goroutine.h"
#include "runtime/sync/wait_queue.h"

namespace spindle::runtime::sync_internal {

// Everything happens under the queue lock, and release() touches the Sema for the last time
// when it unlocks: a goroutine that takes the count (and may then destroy the primitive that
// embeds this Sema, like a WaitGroup on its stack) must take the lock after that. A lock-free
// fast path would let it return while release() is still reading the Sema.
class Sema {
 public:
  Sema() = default;
  Sema(const Sema&) = delete;
  Sema& operator=(const Sema&) = delete;

  // Waits until the count is positive, then decrements it. Parks with `reason` if it must
  // wait; that needs a goroutine (fatal naming `what` otherwise). lifo queues the caller at
  // the head: for a mutex waiter that already waited once (Go's queueLifo).
  void acquire(WaitReason reason, bool lifo, const char* what);
  // Gives the count to the first waiter and wakes it, or increments the count if nobody
  // waits. handoff: a calling goroutine then yields, so the woken waiter runs now (Go's
  // semrelease handoff, for starving mutexes).
  void release(bool handoff);

 private:
  WaitQueue queue_;
  uint32_t count_ GUARDED_BY(queue_) = 0;
};

}  // namespace spindle::runtime::sync_internal
