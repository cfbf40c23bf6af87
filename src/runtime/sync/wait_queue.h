// WaitQueue: the building block every sync primitive parks on. An intrusive FIFO of Waiter
// records that live on the parked goroutines' own stacks, guarded by a small spin lock that is
// released only after the parking goroutine has switched out (so a waker can never ready a
// goroutine that is still running). Internal to src/runtime/sync/.
#pragma once

#include <cstdint>

#include "base/spin_lock.h"
#include "base/thread_annotations.h"
#include "runtime/goroutine.h"
#include "runtime/scheduler.h"

namespace spindle::runtime::sync_internal {

// One parked goroutine. Lives on that goroutine's stack for as long as it is queued; the
// waker must not touch it after ready(g), because the goroutine may resume and return.
struct Waiter {
  Goroutine* g = nullptr;
  Waiter* next = nullptr;
  int64_t weight = 0;   // Semaphore: tokens wanted
  uint64_t ticket = 0;  // Cond: the wait ticket taken before unlocking the user's mutex
};

// Protected by its own lock: callers lock(), inspect or change the queue, then either unlock()
// or park() (which unlocks after the switch). Wake the popped waiters with wake() after
// unlocking, so ready() never runs under the spin lock. Whatever a waker hands to a waiter
// (tokens, the count, a mutex) it records under the lock, before unlocking: a woken waiter
// owns its resource and retries nothing.
class CAPABILITY("mutex") WaitQueue {
 public:
  void lock() ACQUIRE() NO_THREAD_SAFETY_ANALYSIS { mu_.lock(); }
  void unlock() RELEASE() NO_THREAD_SAFETY_ANALYSIS { mu_.unlock(); }

  bool empty() const REQUIRES(this) { return head_ == nullptr; }
  Waiter* front() const REQUIRES(this) { return head_; }

  // FIFO arrival.
  void push_back(Waiter* w) REQUIRES(this) {
    w->next = nullptr;
    if (tail_) {
      tail_->next = w;
    } else {
      head_ = w;
    }
    tail_ = w;
  }
  // LIFO arrival: a mutex waiter that was woken, lost the race and queues again goes first.
  void push_front(Waiter* w) REQUIRES(this) {
    w->next = head_;
    head_ = w;
    if (!tail_) tail_ = w;
  }
  Waiter* pop_front() REQUIRES(this) {
    Waiter* w = head_;
    if (w) {
      head_ = w->next;
      if (!head_) tail_ = nullptr;
      w->next = nullptr;
    }
    return w;
  }
  // Unlinks and returns the first waiter with w->ticket == ticket, or null.
  Waiter* remove_ticket(uint64_t ticket) REQUIRES(this) {
    Waiter* prev = nullptr;
    for (Waiter* w = head_; w; prev = w, w = w->next) {
      if (w->ticket != ticket) continue;
      (prev ? prev->next : head_) = w->next;
      if (tail_ == w) tail_ = prev;
      w->next = nullptr;
      return w;
    }
    return nullptr;
  }
  // Empties the queue; returns the old chain (linked through next) for wake_all().
  Waiter* take_all() REQUIRES(this) {
    Waiter* chain = head_;
    head_ = tail_ = nullptr;
    return chain;
  }

  // Parks the calling goroutine, whose record w the caller has just queued, with `reason`.
  // The queue lock is released on the scheduler's stack after the switch. Returns when some
  // waker has popped w and called wake(w).
  void park(Waiter* w, WaitReason reason) RELEASE() NO_THREAD_SAFETY_ANALYSIS {
    (void)w;
    runtime::park(reason, &WaitQueue::unlock_after_park, this);
  }

  // Readies a waiter popped from the queue. Call after unlock(); w is dead afterwards.
  static void wake(Waiter* w) { ready(w->g); }
  // Readies every waiter of a chain returned by take_all() (or linked the same way).
  static void wake_all(Waiter* chain) {
    while (chain) {
      Waiter* next = chain->next;  // read before ready: chain dies once its goroutine runs
      wake(chain);
      chain = next;
    }
  }

 private:
  // park()'s UnlockFn: runs on the scheduler's stack once the waiter has switched out.
  static bool unlock_after_park(Goroutine*, void* q) NO_THREAD_SAFETY_ANALYSIS {
    static_cast<WaitQueue*>(q)->unlock();
    return true;
  }

  base::SpinLock mu_;
  // Guarded by this queue's lock (the REQUIRES(this) methods are the only users).
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

}  // namespace spindle::runtime::sync_internal
