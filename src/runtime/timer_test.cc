#include "runtime/timer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace spindle::runtime {
namespace {

struct Fired {
  std::vector<int64_t> whens;
};

void record(void* arg, uintptr_t seq) {
  static_cast<Fired*>(arg)->whens.push_back(static_cast<int64_t>(seq));
}

// The heap alone (no scheduler): timers fire in deadline order; removing from the middle keeps
// it a heap.
TEST(TimerHeap, FiresInDeadlineOrderAfterRandomRemovals) {
  constexpr int kN = 100'000;
  TimerHeap heap;
  Fired fired;
  std::vector<RuntimeTimer> timers(kN);
  std::mt19937_64 rng(7);
  for (auto& t : timers) {
    t.fn = &record;
    t.arg = &fired;
    t.when = static_cast<int64_t>(rng() % 1'000'000'000);
    t.seq = static_cast<uintptr_t>(t.when);
    heap.add(&t);
  }
  EXPECT_EQ(heap.size(), static_cast<size_t>(kN));
  // Stop every third timer (O(log n) each, from the middle of the heap).
  int stopped = 0;
  for (int i = 0; i < kN; i += 3) {
    EXPECT_TRUE(timer_stop(&timers[i]));
    EXPECT_FALSE(timer_stop(&timers[i]));  // already stopped
    ++stopped;
  }
  EXPECT_EQ(heap.size(), static_cast<size_t>(kN - stopped));
  EXPECT_EQ(heap.run_expired(INT64_MAX - 1), kN - stopped);
  ASSERT_EQ(fired.whens.size(), static_cast<size_t>(kN - stopped));
  EXPECT_TRUE(std::is_sorted(fired.whens.begin(), fired.whens.end()));
  EXPECT_EQ(heap.next_when(), kNever);
}

TEST(TimerHeap, OnlyDueTimersRunAndPeriodicOnesRearm) {
  TimerHeap heap;
  Fired fired;
  RuntimeTimer once, periodic;
  once.fn = periodic.fn = &record;
  once.arg = periodic.arg = &fired;
  once.when = 100;
  periodic.when = 50;
  periodic.period = 30;
  heap.add(&once);
  heap.add(&periodic);
  EXPECT_EQ(heap.next_when(), 50);
  EXPECT_EQ(heap.run_expired(49), 0);
  EXPECT_EQ(heap.run_expired(100), 2);  // periodic at 50 (re-armed for 110), once at 100
  EXPECT_EQ(heap.next_when(), 110);
  EXPECT_EQ(heap.run_expired(200), 1);  // 110 fires once; missed periods are skipped
  EXPECT_EQ(heap.next_when(), 230);
  EXPECT_TRUE(timer_stop(&periodic));
  EXPECT_EQ(heap.next_when(), kNever);
}

// The scheduler caps a firing at the room left in its run queue: the timers left over stay due,
// in deadline order, and the next look runs them.
TEST(TimerHeap, AtMostMaxRunAndTheRestStayDue) {
  TimerHeap heap;
  Fired fired;
  std::vector<RuntimeTimer> timers(5);
  for (int i = 0; i < 5; ++i) {
    timers[i].fn = &record;
    timers[i].arg = &fired;
    timers[i].when = 50 - 10 * i;  // added latest deadline first
    timers[i].seq = static_cast<uintptr_t>(timers[i].when);
    heap.add(&timers[i]);
  }
  EXPECT_EQ(heap.run_expired(100, 0), 0);
  EXPECT_EQ(heap.run_expired(100, 2), 2);
  EXPECT_EQ(heap.next_when(), 30);
  EXPECT_EQ(heap.size(), 3u);
  EXPECT_EQ(heap.run_expired(100), 3);
  EXPECT_EQ(fired.whens, (std::vector<int64_t>{10, 20, 30, 40, 50}));
  EXPECT_EQ(heap.next_when(), kNever);
}

}  // namespace
}  // namespace spindle::runtime
