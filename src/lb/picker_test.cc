#include "lb/picker.h"

#include <gtest/gtest.h>

#include <map>

namespace spindle::lb {
namespace {

struct Fixture {
  std::vector<std::shared_ptr<Backend>> all;
  Snapshot snap;
  explicit Fixture(std::vector<int> weights) {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      BackendUrl u;
      u.url = "http://b" + std::to_string(i) + ":1";
      all.push_back(std::make_shared<Backend>(u, u.url, weights[i], false, nullptr));
    }
    snap.backends = all;
    snap.build_weighted_cycle();
  }
  std::size_t index(Backend* b) const {
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i].get() == b) return i;
    }
    return all.size();
  }
};

TEST(PickerTest, RoundRobinExactlyEven) {
  for (std::size_t n : {1, 2, 3, 7}) {
    Fixture f(std::vector<int>(n, 1));
    auto p = make_round_robin();
    std::vector<int> count(n, 0);
    const int k = 1000;
    for (std::size_t i = 0; i < n * k; ++i) ++count[f.index(p->pick(f.snap, nullptr))];
    for (int c : count) EXPECT_EQ(c, k);
  }
}

TEST(PickerTest, RoundRobinAvoidsTheFailedBackend) {
  Fixture f({1, 1, 1});
  auto p = make_round_robin();
  for (int i = 0; i < 30; ++i) EXPECT_NE(p->pick(f.snap, f.all[1].get()), f.all[1].get());
}

TEST(PickerTest, WeightedExactOverACycle) {
  Fixture f({5, 1, 3});
  EXPECT_EQ(f.snap.weighted_cycle.size(), 9u);
  auto p = make_weighted();
  std::vector<int> count(3, 0);
  for (int cycle = 0; cycle < 100; ++cycle) {
    for (int i = 0; i < 9; ++i) ++count[f.index(p->pick(f.snap, nullptr))];
  }
  EXPECT_EQ(count[0], 500);
  EXPECT_EQ(count[1], 100);
  EXPECT_EQ(count[2], 300);
  // Smooth: the heavy backend is never picked more than twice in a row with these weights.
  int run = 0;
  for (std::uint32_t i : f.snap.weighted_cycle) {
    run = i == 0 ? run + 1 : 0;
    EXPECT_LE(run, 2);
  }
}

TEST(PickerTest, WeightedReducesByGcd) {
  Fixture f({20, 40});
  EXPECT_EQ(f.snap.weighted_cycle.size(), 3u);
}

TEST(PickerTest, LeastConnPicksMinimum) {
  Fixture f({1, 1, 1, 1});
  f.all[0]->in_flight = 5;
  f.all[1]->in_flight = 2;
  f.all[2]->in_flight = 7;
  f.all[3]->in_flight = 3;
  auto p = make_least_conn();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p->pick(f.snap, nullptr), f.all[1].get());
  EXPECT_EQ(p->pick(f.snap, f.all[1].get()), f.all[3].get());
}

TEST(PickerTest, LeastConnSpreadsTies) {
  Fixture f({1, 1, 1});
  auto p = make_least_conn();
  std::vector<int> count(3, 0);
  for (int i = 0; i < 300; ++i) ++count[f.index(p->pick(f.snap, nullptr))];
  for (int c : count) EXPECT_EQ(c, 100);
}

TEST(PickerTest, P2cPrefersLowerEwma) {
  Fixture f({1, 1, 1});
  f.all[0]->ewma_ns = 10'000'000;  // 10 ms
  f.all[1]->ewma_ns = 100'000;     // 0.1 ms
  f.all[2]->ewma_ns = 10'000'000;
  auto p = make_p2c_ewma();
  std::vector<int> count(3, 0);
  for (int i = 0; i < 3000; ++i) ++count[f.index(p->pick(f.snap, nullptr))];
  // The fast backend wins every pair it is in: 2/3 of the picks.
  EXPECT_GT(count[1], 1800);
  EXPECT_LT(count[0], 700);
  // Load counts too: the fast backend with a deep queue loses.
  f.all[1]->in_flight = 1000;
  count.assign(3, 0);
  for (int i = 0; i < 3000; ++i) ++count[f.index(p->pick(f.snap, nullptr))];
  EXPECT_LT(count[1], 100);
}

TEST(PickerTest, ParsePolicy) {
  EXPECT_EQ(*parse_policy("p2c-ewma"), Policy::kP2cEwma);
  EXPECT_FALSE(parse_policy("random").ok());
}

}  // namespace
}  // namespace spindle::lb
