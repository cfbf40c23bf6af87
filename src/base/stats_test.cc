#include "base/stats.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace spindle::base {
namespace {

template <class Cells>
struct ExampleStatsOf {
  typename Cells::Counter sent{};
  typename Cells::Gauge open{};
  typename Cells::Counter received{};
  typename Cells::Gauge peak{};

  template <class F, class... S>
  static constexpr void each(F&& f, S&&... s) {
    f(MetricInfo{"sent_total", "messages sent"}, s.sent...);
    f(MetricInfo{"open", "connections open now"}, s.open...);
    f(MetricInfo{"received_total", "messages received"}, s.received...);
    f(MetricInfo{"peak_bytes", "largest buffer"}, s.peak...);
  }
};
using ExampleStats = ExampleStatsOf<SnapshotCells>;

// A snapshot whose each() forgets a field.
struct Forgetful {
  std::uint64_t listed = 0;
  std::uint64_t forgotten = 0;
  template <class F, class... S>
  static constexpr void each(F&& f, S&&... s) {
    f(MetricInfo{"listed_total", "listed"}, s.listed...);
  }
};

static_assert(field_count<ExampleStats>() == 4);
static_assert(each_lists_every_field<ExampleStats>());
static_assert(!each_lists_every_field<Forgetful>());
static_assert(kind_of<std::uint64_t>() == MetricKind::kCounter);
static_assert(kind_of<std::int64_t>() == MetricKind::kGauge);

TEST(StatsTest, SnapshotCopiesEveryLiveCell) {
  ExampleStatsOf<LiveCells> live;
  live.sent.add();
  live.sent.add(4);
  live.open.add(3);
  live.open.sub();
  live.received.add(7);
  live.peak.raise_to(10);
  live.peak.raise_to(4);  // lower: no change
  ExampleStats s = snapshot(live);
  EXPECT_EQ(s.sent, 5u);
  EXPECT_EQ(s.open, 2);
  EXPECT_EQ(s.received, 7u);
  EXPECT_EQ(s.peak, 10);
  live.sent.add();
  EXPECT_EQ(s.sent, 5u);  // a copy
  EXPECT_EQ(snapshot(live).sent, 6u);
}

TEST(StatsTest, EnumeratesNameHelpKindAndValueInOrder) {
  ExampleStatsOf<LiveCells> live;
  live.sent.add(2);
  live.open.sub(3);  // a gauge may go below zero
  live.received.add(1);
  live.peak.raise_to(1 << 20);
  std::vector<Metric> got;
  for_each_metric(snapshot(live), [&](const Metric& m) { got.push_back(m); });
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].name, "sent_total");
  EXPECT_EQ(got[0].help, "messages sent");
  EXPECT_EQ(got[0].kind, MetricKind::kCounter);
  EXPECT_EQ(got[0].value, 2.0);
  EXPECT_EQ(got[1].name, "open");
  EXPECT_EQ(got[1].kind, MetricKind::kGauge);
  EXPECT_EQ(got[1].value, -3.0);
  EXPECT_EQ(got[2].name, "received_total");
  EXPECT_EQ(got[2].value, 1.0);
  EXPECT_EQ(got[3].name, "peak_bytes");
  EXPECT_EQ(got[3].kind, MetricKind::kGauge);
  EXPECT_EQ(got[3].value, 1048576.0);
  EXPECT_STREQ(to_string(MetricKind::kCounter), "counter");
  EXPECT_STREQ(to_string(MetricKind::kGauge), "gauge");
}

// Cells bumped from several threads lose no update (TSan sees only atomics).
TEST(StatsTest, ConcurrentUpdatesAddUp) {
  ExampleStatsOf<LiveCells> live;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&live, t] {
      for (int i = 0; i < 10000; ++i) {
        live.sent.add();
        live.open.add();
        live.open.sub();
        live.peak.raise_to(t * 10000 + i);
      }
    });
  }
  for (int i = 0; i < 100; ++i) (void)snapshot(live);  // reads while they write
  for (auto& t : threads) t.join();
  ExampleStats s = snapshot(live);
  EXPECT_EQ(s.sent, 40000u);
  EXPECT_EQ(s.open, 0);
  EXPECT_EQ(s.peak, 39999);
}

}  // namespace
}  // namespace spindle::base
