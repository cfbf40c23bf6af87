// Semaphore: a weighted counting semaphore for goroutines (like golang.org/x/sync/semaphore):
// acquire(k) takes k of its n tokens, parking the goroutine until they are free. Waiters are
// served strictly in arrival order.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/sync/wait_queue.h"

namespace spindle::runtime {

// FIFO: a large request at the head blocks smaller ones behind it even when they would fit,
// so large requests are never starved. Misuse is fatal: acquire or release of a negative
// weight, acquire(k) with k > n (it could never succeed: a hang), release of more tokens than
// are held ("sync: Semaphore released more than held").
class Semaphore {
 public:
  // n tokens, all available.
  explicit Semaphore(int64_t n);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Takes k tokens, parking until they are available and every earlier waiter is served.
  // Waiting needs a goroutine; an acquire that need not wait works from any thread.
  void acquire(int64_t k = 1);
  // Takes k tokens if that needs no waiting (and nobody waits); never parks.
  bool try_acquire(int64_t k = 1);
  // Returns k tokens and wakes the waiters at the head that now fit. Any thread.
  void release(int64_t k = 1);

  size_t waiters_for_test();

 private:
  const int64_t size_;
  sync_internal::WaitQueue queue_;  // its lock also guards held_
  int64_t held_ GUARDED_BY(queue_) = 0;
};

}  // namespace spindle::runtime
