#include "lb/adaptive_limit.h"

#include <algorithm>

namespace spindle::lb {

AdaptiveLimit::AdaptiveLimit(AdaptivePolicy policy)
    : policy_(policy),
      means_(std::max<std::size_t>(policy.floor_intervals, 1), kNone),
      limit_(std::clamp(policy.initial_limit, policy.min_limit, policy.max_limit)) {}

std::int64_t AdaptiveLimit::update(bool reached, std::int64_t in_flight) {
  const std::uint64_t n = samples_.exchange(0, std::memory_order_relaxed);
  const std::uint64_t sum = sum_ns_.exchange(0, std::memory_order_relaxed);
  const std::uint64_t m = n == 0 ? kNone : sum / n;
  const std::int64_t limit = limit_.load(std::memory_order_relaxed);
  ++intervals_;
  means_[next_] = m;  // kNone when the interval had no sample: it ages out of the window
  next_ = (next_ + 1) % means_.size();
  if (n == 0) return limit;
  const std::uint64_t floor = *std::min_element(means_.begin(), means_.end());
  floor_.store(floor, std::memory_order_relaxed);
  last_mean_.store(m, std::memory_order_relaxed);
  if (n < policy_.min_samples) return limit;

  const std::uint64_t allowance = std::max(policy_.min_allowance_ns, floor / 2);
  const std::uint64_t standing = m - floor;
  std::int64_t next = limit;
  if (standing <= allowance) {
    streak_ = 0;
  } else if (++streak_ == 1) {
    streak_start_limit_ = limit;
    streak_peak_ = m;
  } else {
    streak_peak_ = std::max(streak_peak_, m);
  }
  if (streak_ > policy_.rebase_after && m * 5 > streak_peak_ * 4) {
    // Cut after cut, the latency did not come down: it is not a queue of ours but a slower
    // backend set. Take it as the floor and give back the limit the cuts took.
    std::fill(means_.begin(), means_.end(), kNone);
    means_[(next_ + means_.size() - 1) % means_.size()] = m;
    floor_.store(m, std::memory_order_relaxed);
    rebases_.fetch_add(1, std::memory_order_relaxed);
    streak_ = 0;
    next = std::max(limit, streak_start_limit_);
  } else if (standing > allowance) {
    const double scale = static_cast<double>(floor + allowance / 2) / static_cast<double>(m);
    next = static_cast<std::int64_t>(static_cast<double>(limit) * std::max(scale, 0.5));
    if (!reached) next = std::max(next, in_flight);
    next = std::min(next, limit);
  } else if (reached) {
    // Fast (× 1.5) only when no cut happened for a while: just after one, the latency this
    // interval shows lags the queue the last growth built.
    const bool calm = intervals_ - last_cut_ > static_cast<std::int64_t>(policy_.floor_intervals);
    if (standing > allowance / 2) {
      next = limit + 1;
    } else if (calm) {
      next = limit + std::max<std::int64_t>(limit / 2, 1);
    } else {
      next = limit + std::max<std::int64_t>(limit / 16, 1);
    }
  }
  next = std::clamp(next, policy_.min_limit, policy_.max_limit);
  if (next < limit) {
    cuts_.fetch_add(1, std::memory_order_relaxed);
    last_cut_ = intervals_;
  }
  limit_.store(next, std::memory_order_relaxed);
  return next;
}

}  // namespace spindle::lb
