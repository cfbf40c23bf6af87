#include "lb/adaptive_limit.h"

#include <gtest/gtest.h>

namespace spindle::lb {
namespace {

constexpr std::uint64_t kMs = 1'000'000;

// The rules with round numbers: start at 128, floor allowance 5 ms (independent of defaults).
AdaptivePolicy test_policy() {
  AdaptivePolicy p;
  p.initial_limit = 128;
  p.min_allowance_ns = 5 * kMs;
  return p;
}

// One interval of `n` samples averaging `mean` ns.
void interval(AdaptiveLimit& a, std::uint64_t mean, int n = 10) {
  for (int i = 0; i < n; ++i) a.record(i % 2 == 0 ? mean - kMs / 2 : mean + kMs / 2);
}

TEST(AdaptiveLimit, StartsAtTheInitialLimitAndHoldsWhileNotReached) {
  AdaptiveLimit a(test_policy());
  EXPECT_EQ(a.limit(), 128);
  for (int i = 0; i < 5; ++i) {
    interval(a, 1 * kMs);
    EXPECT_EQ(a.update(/*reached=*/false, 20), 128);
  }
  EXPECT_EQ(a.floor_ns(), 1 * kMs);
}

TEST(AdaptiveLimit, GrowsByHalfWhenReachedWithoutAQueueUpToTheCeiling) {
  AdaptiveLimit a(test_policy());
  interval(a, 1 * kMs);
  EXPECT_EQ(a.update(true, 128), 192);
  interval(a, 1 * kMs);
  EXPECT_EQ(a.update(true, 192), 288);
  for (int i = 0; i < 10; ++i) {
    interval(a, 1 * kMs);
    a.update(true, a.limit());
  }
  EXPECT_EQ(a.limit(), 1024);
  EXPECT_EQ(a.cuts(), 0u);
}

TEST(AdaptiveLimit, GrowsByOneWithASmallStandingQueue) {
  AdaptiveLimit a(test_policy());
  interval(a, 1 * kMs);
  a.update(false, 10);
  // Standing 3 ms: above half the 5 ms allowance, within it.
  interval(a, 4 * kMs);
  EXPECT_EQ(a.update(true, 128), 129);
}

TEST(AdaptiveLimit, CutsInProportionToTheStandingQueueAtMostByHalf) {
  AdaptivePolicy p = test_policy();
  p.initial_limit = 1000;
  AdaptiveLimit a(p);
  interval(a, 2 * kMs);
  a.update(false, 10);  // floor 2 ms, allowance 5 ms
  // Standing 8 ms (> 5): limit × (2 + 2.5) / 10 = 450 — but at most halved: 500.
  interval(a, 10 * kMs);
  EXPECT_EQ(a.update(true, 1000), 500);
  // Standing 4.5 ms would be within the allowance; 6.5 ms is not: 500 × 4.5 / 8.5 = 264.
  interval(a, 8'500'000);
  EXPECT_EQ(a.update(true, 500), 264);
  EXPECT_EQ(a.cuts(), 2u);
}

TEST(AdaptiveLimit, AllowanceIsHalfTheFloorForSlowBackends) {
  AdaptivePolicy p = test_policy();
  p.initial_limit = 100;
  AdaptiveLimit a(p);
  interval(a, 40 * kMs);
  a.update(false, 10);
  // Floor 40 ms: 15 ms standing is within the 20 ms allowance (a fixed 5 ms would cut).
  interval(a, 55 * kMs);
  EXPECT_EQ(a.update(true, 100), 101);
  interval(a, 70 * kMs);
  EXPECT_LT(a.update(true, 101), 101);
}

TEST(AdaptiveLimit, DoesNotCutBelowTheInFlightCountWhenTheLimitWasNotReached) {
  AdaptiveLimit a(test_policy());
  interval(a, 1 * kMs);
  a.update(false, 10);
  interval(a, 50 * kMs);
  EXPECT_EQ(a.update(/*reached=*/false, 100), 100);
  interval(a, 50 * kMs);
  EXPECT_EQ(a.update(false, 30), 50);  // halved, still above the 30 running
}

TEST(AdaptiveLimit, NeverGoesBelowTheMinimum) {
  AdaptiveLimit a(test_policy());
  interval(a, 1 * kMs);
  a.update(false, 0);
  // A queue that drains as the limit falls (each interval's mean well under the streak's peak).
  for (std::uint64_t m : {100, 60, 35, 20, 12, 7}) {
    interval(a, m * kMs);
    a.update(true, a.limit());
  }
  EXPECT_EQ(a.limit(), 8);
  EXPECT_EQ(a.rebases(), 0u);
}

// Latency that stays up however far the limit falls is not a queue of ours: after four cuts
// the controller takes it as the new floor and gives the limit back (a deploy made the
// backends slower; strangling them would turn it into an outage).
TEST(AdaptiveLimit, ALatencyThatCutsDoNotBringDownBecomesTheFloor) {
  AdaptiveLimit a(test_policy());
  interval(a, 1 * kMs);
  a.update(false, 0);
  for (std::int64_t want : {64, 32, 16, 8}) {
    interval(a, 30 * kMs);
    EXPECT_EQ(a.update(true, a.limit()), want);
  }
  interval(a, 30 * kMs);
  EXPECT_EQ(a.update(true, 8), 128);
  EXPECT_EQ(a.floor_ns(), 30 * kMs);
  EXPECT_EQ(a.rebases(), 1u);
  interval(a, 31 * kMs);  // within the new allowance: no cut
  EXPECT_GT(a.update(true, 128), 128);
}

TEST(AdaptiveLimit, IgnoresIntervalsWithTooFewSamples) {
  AdaptiveLimit a(test_policy());
  interval(a, 1 * kMs);
  a.update(false, 0);
  interval(a, 100 * kMs, /*n=*/3);
  EXPECT_EQ(a.update(true, 128), 128);
}

// The floor is the least interval mean of the last 20 intervals.
TEST(AdaptiveLimit, TheFloorFollowsTheWindow) {
  AdaptiveLimit a(test_policy());
  interval(a, 1 * kMs);
  a.update(false, 0);
  for (int i = 0; i < 19; ++i) {
    interval(a, 5 * kMs);  // 4 ms over the floor: within the 5 ms allowance
    a.update(false, 0);
    EXPECT_EQ(a.floor_ns(), 1 * kMs);
  }
  interval(a, 5 * kMs);
  a.update(false, 0);
  EXPECT_EQ(a.floor_ns(), 5 * kMs);
  EXPECT_EQ(a.cuts(), 0u);
}

}  // namespace
}  // namespace spindle::lb
