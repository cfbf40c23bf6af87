// Cond: a condition variable for goroutines (Go's sync.Cond), bound to one Mutex. wait()
// parks the goroutine (not the thread); signal() wakes one waiter, broadcast() all of them.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/thread_annotations.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/wait_queue.h"

namespace spindle::runtime {

// No lost wakeups: a waiter takes a ticket before it unlocks the mutex, and signal() consumes
// tickets in order, so a signal that arrives between the unlock and the park still wakes it.
// wait() never wakes spuriously, but callers should still wait in a predicate loop, as in Go
// (another goroutine may change the state between the wakeup and the re-lock).
class Cond {
 public:
  explicit Cond(Mutex& mu) : mu_(mu) {}
  Cond(const Cond&) = delete;
  Cond& operator=(const Cond&) = delete;

  // Atomically unlocks the mutex and parks; re-locks before returning. The caller must hold
  // the mutex and be a goroutine (fatal otherwise). Not annotated REQUIRES(mu_): the analysis
  // cannot see that the caller's mutex and mu_ are the same object.
  void wait() NO_THREAD_SAFETY_ANALYSIS;
  // Wakes the longest-waiting goroutine, if any. Any thread; holding the mutex is allowed but
  // not required.
  void signal();
  // Wakes every waiting goroutine. Any thread.
  void broadcast();

 private:
  Mutex& mu_;
  // Tickets handed out to waiters (next one to take) and notified so far: wait_ == notify_
  // means nobody waits. Changed under queue_'s lock, except wait_'s increment; read
  // lock-free on the signal fast path.
  std::atomic<uint64_t> wait_{0};
  std::atomic<uint64_t> notify_{0};
  sync_internal::WaitQueue queue_;
};

}  // namespace spindle::runtime
