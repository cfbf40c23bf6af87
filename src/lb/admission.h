// Admission: the overload guard in front of the proxy (--max-in-flight). Up to `limit`
// requests run at once; the next ones wait at most `queue_wait` for a slot and are then
// refused (the proxy answers 503 with Retry-After). A freed slot goes to the oldest waiter
// while the queue is short, and to the *newest* once the oldest has waited half the deadline
// (adaptive LIFO): under sustained overload the admitted requests are the ones that waited
// least and the oldest time out. The admitted path is one atomic compare-and-swap; only waiters
// touch the lock, a channel and a timer. With an AdaptiveLimit (`--max-in-flight auto`) the limit
// moves with the backends' standing latency (adaptive_limit.h); the Balancer calls
// control_step every 100 ms. Design: docs/lb.md, "Overload".
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "base/thread_annotations.h"
#include "lb/adaptive_limit.h"
#include "runtime/channel.h"
#include "runtime/sync/mutex.h"
#include "runtime/time.h"

namespace spindle::lb {

class Admission {
 public:
  // limit 0: no limit (admit() always succeeds at the cost of one atomic add).
  Admission(std::int64_t limit, base::Duration queue_wait);
  // Adaptive: the limit starts at policy.initial_limit and moves within the policy's bounds.
  Admission(AdaptivePolicy policy, base::Duration queue_wait);

  // True when the caller may proceed (then it must call release() once); false when no slot
  // freed within queue_wait. Parks only when the limit is reached. From a goroutine.
  bool admit();
  void release();

  // An answered request's upstream latency, for the adaptive limit (a no-op without one).
  void record_latency(std::uint64_t ns) {
    if (adaptive_) adaptive_->record(ns);
  }
  // One control step of the adaptive limit: closes the interval, moves the limit, and hands
  // slots a raised limit frees to waiters. One caller at a time.
  void control_step();

  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  std::uint64_t queued() const { return queued_.load(std::memory_order_relaxed); }
  std::uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
  std::int64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  const AdaptiveLimit* adaptive() const { return adaptive_.get(); }

 private:
  struct Waiter {
    runtime::Chan<bool> slot = runtime::make_chan<bool>(1);  // the hand-off; never blocks
    base::TimePoint since;                                   // when it started waiting
  };
  bool try_take();
  // Hands the caller's slot to a waiter: false (slot kept) if there is none. The oldest
  // (FIFO) while it has waited less than half the queue deadline, else the newest (LIFO).
  bool hand_off();

  std::atomic<std::int64_t> limit_;  // changes only with an AdaptiveLimit
  const base::Duration queue_wait_;
  const std::unique_ptr<AdaptiveLimit> adaptive_;  // null: fixed limit
  alignas(64) std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> waiting_{0};  // queue_.size(), read without the lock
  std::atomic<bool> reached_{false};      // a request found the limit reached this interval
  runtime::Mutex mu_;
  std::deque<Waiter*> queue_ GUARDED_BY(mu_);  // oldest first
  std::atomic<std::uint64_t> queued_{0}, rejected_{0};
};

}  // namespace spindle::lb
