// AdaptiveLimit: the in-flight limit behind `--max-in-flight auto`, learned from upstream
// latency. A fixed limit cannot fit both a backend set that answers 60K req/s
// in a millisecond and one that answers 2K req/s of CPU-bound work: 1024 in flight is ~17 ms
// of queue for the first and half a second for the second (measured: p99 of admitted
// requests 865 ms at twice the capacity of CPU-bound backends). So the limit follows the
// backends' queue, seen as the *standing* part of their latency.
//
// Every interval (100 ms) the controller takes the mean upstream latency (to the response
// head) of the interval, `m`; the floor is the least interval mean over the last 20
// intervals (2 s); standing = m − floor; the allowance is max(5 ms, floor / 2). Then:
//   standing > allowance      cut in proportion, limit × (floor + allowance/2) / m, at most
//                             halving, never below the in-flight count when the limit was
//                             not reached (the queue is not ours then)
//   limit reached, standing ≤ allowance/2
//                             grow × 1.5 if nothing was cut for 2 s, else by 1/16
//   limit reached, otherwise  grow by 1
//   limit not reached         hold
// Cutting drains the backends' queue, so later intervals show the real floor again. A
// latency that four cuts in a row did not bring down by a fifth is no queue of ours but a
// slower backend set (a deploy, a new backend): it becomes the floor and the limit the cuts
// took is given back (measured: replacing 1 ms backends by 30 ms ones under 1000 req/s sheds
// nothing; without this step 20% of requests got 503 for ~2 s).
//
// Why the mean, not CoDel's interval minimum: a backend that serves its newest request
// first (a goroutine-per-connection server whose scheduler runs the last readied goroutine
// next) keeps the minimum low while its queue grows; the mean follows the queue (Little's
// law). Rejected: Envoy's gradient with periodic minimum-RTT probes (pins concurrency to a
// handful and refuses what does not fit, every minute); Netflix Gradient2's long-term
// average baseline (drifts up under sustained overload, the case this exists for); a fixed
// latency budget (wrong for any backend slower than it). Not the default: it sheds the
// standing latency a closed-loop client set creates on purpose too (2,000 wrk connections:
// 7% 503s, none with the fixed limit). Design: docs/lb.md, "Overload".
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

namespace spindle::lb {

struct AdaptivePolicy {
  std::int64_t min_limit = 8;
  std::int64_t max_limit = 1024;
  std::int64_t initial_limit = 1024;  // the ceiling: no ramp (a ramp refuses a sudden burst)
  std::uint64_t min_samples = 4;      // per interval, to act on it
  std::uint64_t min_allowance_ns = 5'000'000;  // standing delay tolerated: max(this, floor/2)
  std::size_t floor_intervals = 20;            // the floor is the least mean over these
  std::uint64_t rebase_after = 4;              // cuts in a row that must bring latency down
};

class AdaptiveLimit {
 public:
  explicit AdaptiveLimit(AdaptivePolicy policy = {});

  // One answered request's upstream latency (to the response head). Any thread; two relaxed
  // atomic adds.
  void record(std::uint64_t ns) {
    samples_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  }

  // Closes the interval and returns the new limit. `reached`: a request found the limit
  // reached during the interval; `in_flight`: requests running now. One caller at a time.
  std::int64_t update(bool reached, std::int64_t in_flight);

  std::int64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  std::uint64_t floor_ns() const { return floor_.load(std::memory_order_relaxed); }  // 0: none yet
  std::uint64_t last_mean_ns() const { return last_mean_.load(std::memory_order_relaxed); }
  std::uint64_t cuts() const { return cuts_.load(std::memory_order_relaxed); }
  std::uint64_t rebases() const { return rebases_.load(std::memory_order_relaxed); }
  const AdaptivePolicy& policy() const { return policy_; }

 private:
  static constexpr std::uint64_t kNone = std::numeric_limits<std::uint64_t>::max();

  alignas(64) std::atomic<std::uint64_t> sum_ns_{0};
  std::atomic<std::uint64_t> samples_{0};
  alignas(64) const AdaptivePolicy policy_;
  std::vector<std::uint64_t> means_;  // ring of interval means; kNone: empty (controller only)
  std::size_t next_ = 0;
  std::int64_t intervals_ = 0;          // updates so far (controller only)
  std::int64_t last_cut_ = -1'000'000;  // the update that last cut the limit
  std::uint64_t streak_ = 0;            // updates in a row over the allowance
  std::int64_t streak_start_limit_ = 0;
  std::uint64_t streak_peak_ = 0;  // the highest mean latency in the streak
  std::atomic<std::int64_t> limit_;
  std::atomic<std::uint64_t> floor_{0}, last_mean_{0}, cuts_{0}, rebases_{0};  // for metrics
};

}  // namespace spindle::lb
