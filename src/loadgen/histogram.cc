#include "loadgen/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace spindle::loadgen {

namespace {

// Exponent of the range a value falls in: 0 for values below 2*kSubBuckets (one bucket per
// nanosecond), k for [kSubBuckets << k, kSubBuckets << (k + 1)) (buckets 2^k wide).
int exponent_of(std::uint64_t v) {
  int width = std::bit_width(v);
  return std::max(0, width - (LatencyHistogram::kSubBucketBits + 1));
}

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(index_of(kMaxValue) + 1, 0) {}

std::size_t LatencyHistogram::index_of(std::int64_t ns) {
  auto v = static_cast<std::uint64_t>(std::clamp<std::int64_t>(ns, 0, kMaxValue));
  int k = exponent_of(v);
  // Range k >= 1 holds mantissas v >> k in [kSubBuckets, 2 * kSubBuckets): its buckets follow
  // those of range k - 1 without a gap (range 0 takes indexes [0, 2 * kSubBuckets)).
  return static_cast<std::size_t>(k) * kSubBuckets + (v >> k);
}

std::int64_t LatencyHistogram::lower_of(std::size_t index) {
  auto i = static_cast<std::int64_t>(index);
  if (i < 2 * kSubBuckets) return i;
  std::int64_t k = i / kSubBuckets - 1;
  std::int64_t mantissa = i - k * kSubBuckets;
  return mantissa << k;
}

std::int64_t LatencyHistogram::upper_of(std::size_t index) {
  auto i = static_cast<std::int64_t>(index);
  if (i < 2 * kSubBuckets) return i;
  std::int64_t k = i / kSubBuckets - 1;
  return lower_of(index) + (std::int64_t{1} << k) - 1;
}

void LatencyHistogram::record(std::int64_t ns) {
  ns = std::max<std::int64_t>(ns, 0);
  if (ns > kMaxValue) {
    ++clamped_;
    ns = kMaxValue;
  }
  ++counts_[index_of(ns)];
  min_ = count_ == 0 ? ns : std::min(min_, ns);
  max_ = std::max(max_, ns);
  sum_ += ns;
  ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  count_ += other.count_;
  clamped_ += other.clamped_;
}

std::int64_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(upper_of(i), min(), max_);
  }
  return max_;
}

std::vector<LatencyHistogram::Bucket> LatencyHistogram::buckets() const {
  std::vector<Bucket> out;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) out.push_back({lower_of(i), upper_of(i), counts_[i]});
  }
  return out;
}

}  // namespace spindle::loadgen
