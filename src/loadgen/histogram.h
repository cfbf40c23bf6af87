// LatencyHistogram: an HdrHistogram-style log-linear histogram of durations in nanoseconds.
// Every power-of-two range is cut into kSubBuckets equal buckets, so a recorded value is known
// to within 1/kSubBuckets of itself (0.4%) from 1 ns to kMaxValue; values below 2*kSubBuckets ns
// are exact. Two histograms merge exactly (bucket counts add), so per-step histograms sum to
// the whole run's. Single-owner: the caller serialises access (loadgen's Recorder holds a lock).
#pragma once

#include <cstdint>
#include <vector>

namespace spindle::loadgen {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 8;
  static constexpr std::int64_t kSubBuckets = std::int64_t{1} << kSubBucketBits;  // 256
  // Larger values are recorded as kMaxValue (about 18 minutes); counted in clamped().
  static constexpr std::int64_t kMaxValue = (std::int64_t{1} << 40) - 1;

  LatencyHistogram();

  // Negative values count as 0.
  void record(std::int64_t ns);
  // Adds every count of `other`: the result is the histogram of both sets of values.
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t clamped() const { return clamped_; }
  // Exact values (kept beside the buckets); 0 when empty.
  std::int64_t min() const { return count_ ? min_ : 0; }
  std::int64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }
  // The value at quantile q in [0, 1]: the highest value equivalent to that of the bucket
  // holding the ceil(q * count)-th smallest value, capped by max(). 0 when empty.
  std::int64_t quantile(double q) const;

  // One bucket: values in [lower, upper] were counted `count` times.
  struct Bucket {
    std::int64_t lower = 0;
    std::int64_t upper = 0;
    std::uint64_t count = 0;
  };
  // The non-empty buckets, ascending.
  std::vector<Bucket> buckets() const;

  // Where a value is counted, and that bucket's bounds (exposed for tests and JSON readers).
  static std::size_t index_of(std::int64_t ns);
  static std::int64_t lower_of(std::size_t index);
  static std::int64_t upper_of(std::size_t index);

  bool operator==(const LatencyHistogram& o) const = default;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t clamped_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  // Sum of the values: a run's durations in ns fit (2^63 ns is 292 years).
  std::int64_t sum_ = 0;
};

}  // namespace spindle::loadgen
