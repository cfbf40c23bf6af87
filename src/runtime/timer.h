// Runtime timers (Go's runtime timer): a callback at a point in time, kept in a 4-ary min-heap
// per processor. sleep_for, Timer, Ticker, after() and netpoll deadlines are built on them.
// Internal to the runtime.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "base/spin_lock.h"
#include "base/thread_annotations.h"
#include "runtime/netpoll.h"

namespace spindle::runtime {

class TimerHeap;

// Nanoseconds on the steady clock: the heap's key.
int64_t now_ns();
constexpr int64_t kNever = INT64_MAX;

struct RuntimeTimer {
  // Called on the scheduler context (g0) of the M that runs it, without heap locks held. Must
  // be short and must not park: typically ready(g) or a non-blocking channel send. `seq` is the
  // value of `seq` when the timer was armed (netpoll deadlines ignore stale firings).
  void (*fn)(void* arg, uintptr_t seq) = nullptr;
  void* arg = nullptr;
  uintptr_t seq = 0;
  int64_t when = 0;    // ns, steady clock
  int64_t period = 0;  // ns; > 0 re-arms after each firing

  // Heap bookkeeping, under the owning heap's lock.
  std::atomic<TimerHeap*> heap{nullptr};
  int32_t index = -1;
  // Firings in progress (fn executing). A count, not a flag: firings of one timer can overlap
  // (a periodic timer is back in its heap before fn returns, a netpoll deadline re-arms from
  // inside fn), and another P may start the next while this one runs. Incremented under the
  // heap lock as the firing takes the timer out; timer_stop waits for zero.
  std::atomic<int32_t> running{0};
  // False for timers whose fn hands the timer's memory back to its owner (sleep: the woken
  // goroutine returns and its stack frame, holding the timer, is gone): run_expired then
  // doesn't touch the timer after fn, and timer_stop must not be used on it.
  bool track_running = true;
};

// A processor's timers. Any thread may add or remove under `mu_`; the owner P (or a thief, or
// the poller) runs expired ones.
class TimerHeap {
 public:
  // Earliest `when` in the heap, kNever if empty. A racy hint, exact under the lock.
  int64_t next_when() const { return next_when_.load(std::memory_order_acquire); }
  size_t size() const { return count_.load(std::memory_order_relaxed); }

  void add(RuntimeTimer* t);
  // Runs the timers due at `now`, earliest first, at most `max` of them; returns how many ran.
  // Those left over stay due in the heap, in deadline order, for the next look.
  int run_expired(int64_t now, int max = INT32_MAX);

 private:
  friend bool timer_stop(RuntimeTimer* t);
  friend bool timer_remove(RuntimeTimer* t);
  void push_locked(RuntimeTimer* t) REQUIRES(mu_);
  void remove_locked(RuntimeTimer* t) REQUIRES(mu_);
  void sift_up(int32_t i) REQUIRES(mu_);
  void sift_down(int32_t i) REQUIRES(mu_);
  void place(int32_t i, RuntimeTimer* t) REQUIRES(mu_);
  void publish() REQUIRES(mu_);

  base::SpinLock mu_;
  std::vector<RuntimeTimer*> heap_ GUARDED_BY(mu_);
  std::atomic<int64_t> next_when_{kNever};
  std::atomic<size_t> count_{0};
};

// Arms t (t->when, t->fn, t->arg set) on the calling M's processor heap (or the first P's when
// the caller holds none). O(log n). The timer must not be armed already.
void timer_start(RuntimeTimer* t);
// Disarms t; true if it was armed (so its fn will not run for this arming). If firings of t
// are running right now, waits for all of them to finish, so the caller may free t afterwards.
// No firing may re-arm t from now on (netpoll deadlines are set to never first). O(log n).
bool timer_stop(RuntimeTimer* t);
// Removes t from its heap if it is in one (true); never waits for a firing in progress, so a
// caller may hold a lock that t's fn takes. Under the caller's own serialization of t.
bool timer_remove(RuntimeTimer* t);
// timer_stop, then arm again at `when`. Returns what timer_stop returned.
bool timer_reset(RuntimeTimer* t, int64_t when);

}  // namespace spindle::runtime
