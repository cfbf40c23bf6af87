#include "loadgen/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace spindle::loadgen {
namespace {

TEST(LatencyHistogram, BucketsTileTheRangeWithBoundedRelativeWidth) {
  std::int64_t expected_lower = 0;
  for (std::size_t i = 0; i <= LatencyHistogram::index_of(LatencyHistogram::kMaxValue); ++i) {
    std::int64_t lo = LatencyHistogram::lower_of(i), hi = LatencyHistogram::upper_of(i);
    ASSERT_EQ(lo, expected_lower) << i;
    ASSERT_LE(lo, hi);
    ASSERT_EQ(LatencyHistogram::index_of(lo), i);
    ASSERT_EQ(LatencyHistogram::index_of(hi), i);
    if (hi > lo) {  // buckets one value wide are exact
      ASSERT_LE(static_cast<double>(hi - lo + 1) / lo, 1.0 / LatencyHistogram::kSubBuckets);
    }
    expected_lower = hi + 1;
  }
  EXPECT_EQ(expected_lower, LatencyHistogram::kMaxValue + 1);
}

TEST(LatencyHistogram, QuantilesWithinTheRelativeError) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(14, 1.5);  // around 1 ms, long tail
  LatencyHistogram h;
  std::vector<std::int64_t> values;
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<std::int64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  for (double q : {0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    std::size_t rank =
        std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * values.size())));
    double exact = static_cast<double>(values[rank - 1]);
    double got = static_cast<double>(h.quantile(q));
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(got, exact * (1 + 1.0 / LatencyHistogram::kSubBuckets)) << q;
  }
}

TEST(LatencyHistogram, SmallValuesAreExactAndOutOfRangeValuesClamp) {
  LatencyHistogram h;
  h.record(-5);
  h.record(3);
  h.record(LatencyHistogram::kMaxValue + 100);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.quantile(0.5), 3);
  EXPECT_EQ(h.max(), LatencyHistogram::kMaxValue);
  EXPECT_EQ(h.clamped(), 1u);
  EXPECT_EQ(LatencyHistogram().quantile(0.99), 0);
}

TEST(LatencyHistogram, MergeIsExact) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<std::int64_t> dist(0, 5'000'000'000);
  LatencyHistogram a, b, all;
  for (int i = 0; i < 20000; ++i) {
    std::int64_t v = dist(rng) >> (i % 20);
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  LatencyHistogram merged = a;
  merged.merge(b);
  EXPECT_TRUE(merged == all);
  LatencyHistogram other_order = b;
  other_order.merge(a);
  EXPECT_TRUE(other_order == all);
  LatencyHistogram empty;
  empty.merge(all);
  EXPECT_TRUE(empty == all);
  auto buckets = merged.buckets();
  std::uint64_t sum = 0;
  for (const auto& bucket : buckets) sum += bucket.count;
  EXPECT_EQ(sum, all.count());
}

}  // namespace
}  // namespace spindle::loadgen
