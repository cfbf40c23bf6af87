#include "runtime/timer.h"

#include <sched.h>
#include <time.h>

#include "base/check.h"
#include "runtime/race_hook.h"
#include "runtime/scheduler_internal.h"

namespace spindle::runtime {

namespace {
constexpr int32_t kArity = 4;  // 4-ary: shallower than binary, siblings share a cache line
}

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void TimerHeap::place(int32_t i, RuntimeTimer* t) {
  heap_[i] = t;
  t->index = i;
}

void TimerHeap::sift_up(int32_t i) {
  RuntimeTimer* t = heap_[i];
  while (i > 0) {
    int32_t parent = (i - 1) / kArity;
    if (heap_[parent]->when <= t->when) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void TimerHeap::sift_down(int32_t i) {
  const auto n = static_cast<int32_t>(heap_.size());
  RuntimeTimer* t = heap_[i];
  for (;;) {
    int32_t first = i * kArity + 1;
    if (first >= n) break;
    int32_t best = first;
    for (int32_t c = first + 1; c < first + kArity && c < n; ++c) {
      if (heap_[c]->when < heap_[best]->when) best = c;
    }
    if (t->when <= heap_[best]->when) break;
    place(i, heap_[best]);
    i = best;
  }
  place(i, t);
}

void TimerHeap::publish() {
  next_when_.store(heap_.empty() ? kNever : heap_[0]->when, std::memory_order_release);
  count_.store(heap_.size(), std::memory_order_relaxed);
}

void TimerHeap::push_locked(RuntimeTimer* t) {
  t->heap.store(this, std::memory_order_release);
  heap_.push_back(t);
  sift_up(static_cast<int32_t>(heap_.size()) - 1);
  publish();
}

void TimerHeap::remove_locked(RuntimeTimer* t) {
  int32_t i = t->index;
  SPINDLE_CHECK(i >= 0 && i < static_cast<int32_t>(heap_.size()) && heap_[i] == t,
                "timer heap index out of sync");
  RuntimeTimer* last = heap_.back();
  heap_.pop_back();
  if (last != t) {
    place(i, last);
    sift_down(i);
    sift_up(last->index);
  }
  t->index = -1;
  t->heap.store(nullptr, std::memory_order_release);
  publish();
}

void TimerHeap::add(RuntimeTimer* t) {
  base::SpinLockGuard l(mu_);
  push_locked(t);
}

int TimerHeap::run_expired(int64_t now, int max) {
  int ran = 0;
  while (ran < max) {
    RuntimeTimer* t;
    {
      base::SpinLockGuard l(mu_);
      if (heap_.empty() || heap_[0]->when > now) return ran;
      t = heap_[0];
      // Under the lock: a timer_stop that finds t out of the heap (or takes it out after us)
      // sees this count.
      if (t->track_running) t->running.fetch_add(1, std::memory_order_relaxed);
      if (t->period > 0) {
        // Re-armed in place from the scheduled time, skipping missed periods like Go's
        // Ticker. t->heap never reads null meanwhile: timer_remove's unlocked look would take
        // that for "not armed", and timer_stop would return with t back in the heap.
        t->when += t->period * (1 + (now - t->when) / t->period);
        sift_down(0);
        publish();
      } else {
        remove_locked(t);
      }
    }
    race_point(RacePoint::kTimerFire, t);
    if (t->track_running) {
      t->fn(t->arg, t->seq);
      race_point(RacePoint::kTimerFired, t);
      t->running.fetch_sub(1, std::memory_order_release);  // the last touch of t
    } else {
      t->fn(t->arg, t->seq);  // t may be gone once fn returns
      race_point(RacePoint::kTimerFired, t);
    }
    ++ran;
  }
  return ran;
}

void timer_start(RuntimeTimer* t) {
  SPINDLE_CHECK(t->heap.load() == nullptr, "timer armed twice");
  Scheduler::get()->add_timer(t);
}

bool timer_remove(RuntimeTimer* t) {
  for (;;) {
    TimerHeap* h = t->heap.load(std::memory_order_acquire);
    if (h == nullptr) return false;
    base::SpinLockGuard l(h->mu_);
    if (t->heap.load(std::memory_order_relaxed) != h) continue;  // moved meanwhile
    h->remove_locked(t);
    return true;
  }
}

bool timer_stop(RuntimeTimer* t) {
  bool was_armed = timer_remove(t);
  // Firings in progress may still be using t: wait them out (they are short, see
  // RuntimeTimer::fn). Each raised the count under the heap lock before taking t out, so either
  // timer_remove found t in a heap (after those firings, under the same lock) or its acquire
  // load of t->heap saw a firing's removal, and with it that firing's count.
  while (t->running.load(std::memory_order_acquire) > 0) sched_yield();
  SPINDLE_DCHECK(t->heap.load() == nullptr, "a firing re-armed a timer being stopped");
  race_point(RacePoint::kTimerStopped, t);
  return was_armed;
}

bool timer_reset(RuntimeTimer* t, int64_t when) {
  bool was_armed = timer_stop(t);
  t->when = when;
  timer_start(t);
  return was_armed;
}

}  // namespace spindle::runtime
