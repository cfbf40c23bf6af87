// Goroutine-aware Mutex
//
// The whole lock is one 32-bit state word plus a Sema (sema.h) where waiters park:
//
//   bit 0  kLocked    the mutex is held
//   bit 1  kWoken     a waiter is awake (spinning, or woken and about to retry): unlock need
//                     not wake another one
//   bit 2  kStarving  starvation mode (below)
//   3..31 waiters    goroutines parked, or about to park, on sema_
//
// Normal mode. Waiters queue FIFO, but a woken waiter does not own the mutex: it competes
// with goroutines that are arriving right now, which are already running on a CPU and usually
// win. That is the fast path Go chose: a mutex that is released and re-acquired quickly never
// costs a context switch. Before parking, an arrival spins a few rounds while can_spin() says
// the holder is likely running on another processor, setting kWoken so unlock does not wake
// a sleeper it would only race with. A woken waiter that loses requeues at the front (LIFO),
// since it has already waited longest.
//
// Starvation mode. Losing repeatedly could leave a waiter waiting forever. A waiter that has
// waited more than kStarvationThresholdNs (1 ms) sets kStarving on its next attempt. Then:
//   1. unlock() leaves kLocked clear and hands the mutex directly to the waiter at the head of
//      the queue (Sema::release with handoff), then yields so that waiter runs now;
//   2. arrivals neither spin nor take the mutex even when kLocked is clear: they queue at the
//      tail;
//   3. the woken waiter owns the mutex: it sets kLocked and drops its waiter count in one add,
//      and clears kStarving if it is the last waiter or did not itself wait past 1 ms.
// Starvation mode costs a handoff per unlock, so it is left as soon as the queue drains.
//
// Why not a plain FIFO lock (always hand off): every unlock would switch goroutines, and a
// short critical section would run at context-switch speed. Why not a futex-style lock that
// only ever barges: one hot goroutine can starve a waiter indefinitely (the starvation test).
//
// Unlock and lifetime. A mutex may be destroyed as soon as another goroutine can see it
// unlocked (a reference-counted object's last owner locks, unlocks and frees it). So unlock()
// decides in the same CAS that clears kLocked whether to wake someone (taking one waiter off
// the count and setting kWoken), and after that CAS touches only sema_, and only when a
// waiter that is still inside lock() keeps the mutex alive. Go's unlock (an atomic add, then
// a second look at the state) relies on the garbage collector instead.
//
// Misuse: unlock of an unlocked mutex is fatal ("sync: unlock of unlocked mutex"); parking
// from a thread that is not a goroutine is fatal in current().
#include "runtime/sync/mutex.h"

#include "base/check.h"
#include "runtime/scheduler.h"
#include "runtime/timer.h"

namespace spindle::runtime {
namespace {

constexpr int32_t kOneWaiter = 1 << Mutex::kWaiterShift;

int32_t waiters(int32_t state) { return state >> Mutex::kWaiterShift; }

}  // namespace

bool Mutex::try_lock() {
  int32_t old = state_.load(std::memory_order_relaxed);
  if ((old & (kLocked | kStarving)) != 0) return false;
  // A woken waiter may be racing for it; that is fine, like any barging arrival.
  return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire);
}

void Mutex::lock_slow() {
  (void)current("sync: Mutex.lock (contended)");
  int64_t wait_start = 0;  // when this goroutine first parked; 0 before that
  bool starving = false;   // this goroutine waited past the threshold
  bool awoke = false;      // we own kWoken (set it while spinning, or were woken)
  int iter = 0;
  int32_t old = state_.load();
  for (;;) {
    // Spin only in normal mode while the mutex is held: the holder may be about to unlock.
    if ((old & (kLocked | kStarving)) == kLocked && can_spin(iter)) {
      if (!awoke && (old & kWoken) == 0 && waiters(old) != 0 &&
          state_.compare_exchange_weak(old, old | kWoken)) {
        awoke = true;
      }
      spin_pause();
      ++iter;
      old = state_.load();
      continue;
    }
    int32_t next = old;
    if ((old & kStarving) == 0) next |= kLocked;                 // no barging when starving
    if ((old & (kLocked | kStarving)) != 0) next += kOneWaiter;  // we will park
    // Switch to starvation mode only while the mutex is held: otherwise unlock would find
    // kStarving with nobody to hand to.
    if (starving && (old & kLocked) != 0) next |= kStarving;
    if (awoke) {
      SPINDLE_CHECK((next & kWoken) != 0, "sync: inconsistent mutex state");
      next &= ~kWoken;  // we are going to lock or park: either way no longer awake
    }
    if (!state_.compare_exchange_weak(old, next)) continue;  // old was reloaded
    if ((old & (kLocked | kStarving)) == 0) return;          // locked by our CAS
    const bool lifo = wait_start != 0;
    if (!lifo) wait_start = now_ns();
    sema_.acquire(WaitReason::kSyncMutexLock, lifo, "sync: Mutex.lock");
    starving = starving || now_ns() - wait_start > kStarvationThresholdNs;
    old = state_.load();
    if ((old & kStarving) != 0) {
      // Handed to us: kLocked is clear and we are still counted as a waiter. Fix both.
      SPINDLE_CHECK((old & (kLocked | kWoken)) == 0 && waiters(old) != 0,
                    "sync: inconsistent mutex state");
      int32_t delta = kLocked - kOneWaiter;
      if (!starving || waiters(old) == 1) delta -= kStarving;  // leave starvation mode
      state_.fetch_add(delta);
      return;
    }
    awoke = true;
    iter = 0;
  }
}

void Mutex::unlock_slow(int32_t old) {
  for (;;) {
    if ((old & kLocked) == 0) SPINDLE_FATAL("sync: unlock of unlocked mutex");
    int32_t next = old - kLocked;
    // Normal mode: wake one waiter unless one is already awake (spinning, or woken and not yet
    // back). The woken waiter stops counting as a waiter and owns kWoken.
    const bool wake = (old & (kStarving | kWoken)) == 0 && waiters(old) != 0;
    if (wake) next = (next - kOneWaiter) | kWoken;
    if (!state_.compare_exchange_weak(old, next)) continue;  // old was reloaded
    if ((old & kStarving) != 0) {
      // Hand off: the waiter at the head owns the mutex once it runs; kLocked stays clear and
      // arrivals see kStarving and queue instead of taking it, so nobody can lock and destroy
      // the mutex before this release.
      sema_.release(/*handoff=*/true);
    } else if (wake) {
      // The woken waiter is still inside lock(): the mutex outlives this release.
      sema_.release(/*handoff=*/false);
    }
    return;
  }
}

}  // namespace spindle::runtime
