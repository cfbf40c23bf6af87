#include "debug/histogram.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

namespace spindle::debug {
namespace {

TEST(Histogram, BoundsAreInclusiveAndCountsCumulative) {
  const std::array<double, 3> bounds = {0.001, 0.01, 0.1};
  Histogram h(bounds);
  h.observe_ns(1'000'000);      // exactly 1 ms: the first bucket (le)
  h.observe_ns(1'000'001);      // just over: the second
  h.observe_ns(50'000'000);     // 50 ms: the third
  h.observe_ns(2'000'000'000);  // 2 s: only +Inf
  h.observe_ns(-5);             // clock went back: counted as 0
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.counts, (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 0.001 + 0.001000001 + 0.05 + 2.0);
}

TEST(Histogram, ConcurrentObservationsAreAllCounted) {
  Histogram h(Histogram::latency_bounds());
  constexpr int kThreads = 4, kEach = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kEach; ++i) h.observe_ns((i % 1000) * 100'000 + t);
    });
  }
  for (auto& t : threads) t.join();
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, static_cast<std::uint64_t>(kThreads) * kEach);
  EXPECT_EQ(s.counts.back(), s.count);  // everything is under 10 s
}

TEST(HistogramDeathTest, BoundsMustAscend) {
  const std::array<double, 2> bounds = {0.1, 0.01};
  EXPECT_DEATH(Histogram h(bounds), "bounds must ascend");
}

}  // namespace
}  // namespace spindle::debug
