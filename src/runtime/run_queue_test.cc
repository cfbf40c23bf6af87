#include "runtime/run_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/goroutine.h"

namespace spindle::runtime {
namespace {

TEST(RunQueue, FifoWithRunnextFirst) {
  RunQueue q;
  std::vector<Goroutine> gs(3);
  ASSERT_TRUE(q.push_back(&gs[0]));
  ASSERT_TRUE(q.push_back(&gs[1]));
  EXPECT_EQ(q.swap_runnext(&gs[2]), nullptr);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.pop(), &gs[2]);
  EXPECT_EQ(q.pop(), &gs[0]);
  EXPECT_EQ(q.pop(), &gs[1]);
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.empty());
}

TEST(RunQueue, FullRingRefusesAndOverflowsHalf) {
  RunQueue q;
  std::vector<Goroutine> gs(RunQueue::kSize + 1);
  for (uint32_t i = 0; i < RunQueue::kSize; ++i) ASSERT_TRUE(q.push_back(&gs[i]));
  EXPECT_FALSE(q.push_back(&gs[RunQueue::kSize]));
  Goroutine* batch[RunQueue::kSize / 2];
  ASSERT_EQ(q.take_half_for_overflow(batch), RunQueue::kSize / 2);
  EXPECT_EQ(batch[0], &gs[0]);  // the oldest half leaves
  EXPECT_EQ(q.pop(), &gs[RunQueue::kSize / 2]);
}

TEST(RunQueue, StealTakesHalfAndRunnextOnlyWhenAsked) {
  RunQueue victim, thief;
  std::vector<Goroutine> gs(11);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(victim.push_back(&gs[i]));
  Goroutine* got = victim.steal_half_into(thief, false);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(thief.size() + 1, 5u);
  EXPECT_EQ(victim.size(), 5u);

  RunQueue only_next, dst;
  only_next.swap_runnext(&gs[10]);
  EXPECT_EQ(only_next.steal_half_into(dst, false), nullptr);
  EXPECT_EQ(only_next.steal_half_into(dst, true), &gs[10]);
}

// The owner pushes and pops while thieves steal into their own queues: every goroutine must
// come out exactly once.
TEST(RunQueueStress, OwnerAndThievesSeeEachGoroutineOnce) {
#if defined(SPINDLE_TSAN)
  constexpr int kItems = 20'000;
#else
  constexpr int kItems = 300'000;
#endif
  constexpr int kThieves = 3;
  std::vector<Goroutine> gs(kItems);
  for (int i = 0; i < kItems; ++i) gs[i].id = static_cast<uint64_t>(i);
  std::vector<std::atomic<int>> seen(kItems);
  std::atomic<int> taken{0};
  RunQueue owner_q;
  auto take = [&](Goroutine* g) {
    seen[g->id].fetch_add(1, std::memory_order_relaxed);
    taken.fetch_add(1, std::memory_order_relaxed);
  };
  std::vector<std::thread> thieves;
  for (int t = 0; t < kThieves; ++t) {
    thieves.emplace_back([&] {
      RunQueue mine;
      while (taken.load(std::memory_order_relaxed) < kItems) {
        if (Goroutine* g = owner_q.steal_half_into(mine, true)) {
          take(g);
          while (Goroutine* more = mine.pop()) take(more);
        }
      }
    });
  }
  int next = 0;
  while (taken.load(std::memory_order_relaxed) < kItems) {
    for (int burst = 0; burst < 7 && next < kItems; ++burst) {
      if (next % 5 == 0) {
        if (Goroutine* old = owner_q.swap_runnext(&gs[next])) {
          while (!owner_q.push_back(old)) {
            if (Goroutine* g = owner_q.pop()) take(g);
          }
        }
      } else {
        while (!owner_q.push_back(&gs[next])) {
          if (Goroutine* g = owner_q.pop()) take(g);
        }
      }
      ++next;
    }
    if (Goroutine* g = owner_q.pop()) take(g);
  }
  for (auto& t : thieves) t.join();
  EXPECT_EQ(taken.load(), kItems);
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(seen[i].load(), 1) << "goroutine " << i;
}

}  // namespace
}  // namespace spindle::runtime
