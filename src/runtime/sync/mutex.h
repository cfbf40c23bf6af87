// Mutex: a goroutine-aware mutual exclusion lock (Go's sync.Mutex). A contended lock() spins
// briefly, then parks the goroutine, not its thread; a starvation mode bounds how long any
// waiter waits. Design: the comment at the top of mutex.cc and docs/runtime.md, "Sync".
#pragma once

#include <atomic>
#include <cstdint>

#include "base/thread_annotations.h"
#include "runtime/sync/sema.h"

namespace spindle::runtime {

// Not owned by a goroutine: any goroutine may unlock a mutex another one locked, as in Go.
// Satisfies Lockable, so std::lock_guard and std::unique_lock work; MutexLock is the
// annotated scoped guard. Not recursive: locking it twice from one goroutine deadlocks.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Locks, parking the calling goroutine if the mutex is held. An uncontended lock works from
  // any thread; waiting needs a goroutine (fatal "called from outside a goroutine" otherwise).
  void lock() ACQUIRE() {
    int32_t unlocked = 0;
    if (state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire)) return;
    lock_slow();
  }
  // Locks if that needs no waiting. Never barges in starvation mode. Any thread.
  bool try_lock() TRY_ACQUIRE(true);
  // Unlocks, waking or (in starvation mode) handing the lock to a waiter. Fatal "sync: unlock
  // of unlocked mutex" if it is not locked. Once the mutex is seen unlocked it may be
  // destroyed: unlock decides whom to wake in the same atomic step that unlocks, and touches
  // the mutex afterwards only while a waiter it must wake keeps the mutex alive.
  void unlock() RELEASE() {
    int32_t old = kLocked;
    if (state_.compare_exchange_strong(old, 0, std::memory_order_release)) return;
    unlock_slow(old);
  }

  // State bits, for tests and docs: kLocked | kWoken | kStarving | waiters << kWaiterShift.
  static constexpr int32_t kLocked = 1;    // held
  static constexpr int32_t kWoken = 2;     // a waiter is awake (spinning or woken): no wakeup
  static constexpr int32_t kStarving = 4;  // starvation mode: unlock hands over directly
  static constexpr int kWaiterShift = 3;
  // A waiter that waited longer than this switches the mutex to starvation mode (Go: 1 ms).
  static constexpr int64_t kStarvationThresholdNs = 1'000'000;

  int32_t state_for_test() const { return state_.load(); }

 private:
  void lock_slow();
  void unlock_slow(int32_t old);

  std::atomic<int32_t> state_{0};
  sync_internal::Sema sema_;  // where waiters park
};

// Scoped lock of a Mutex, understood by -Wthread-safety (std::lock_guard is not annotated).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace spindle::runtime
