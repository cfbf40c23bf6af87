#include "runtime/time.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <random>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/scheduler.h"
#include "runtime/select.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

using namespace std::chrono_literals;
using base::Clock;
using base::TimePoint;
using testing::RuntimeTest;

#if defined(SPINDLE_TSAN) || defined(SPINDLE_ASAN)
constexpr auto kSlack = 150ms;  // sanitizers slow everything down
#else
constexpr auto kSlack = 50ms;
#endif

class TimeTest : public RuntimeTest {};

TEST_P(TimeTest, SleepWakesAfterItsDeadlineAndPromptly) {
  run(
      [] {
        for (auto d : {1ms, 20ms, 50ms}) {
          auto start = Clock::now();
          sleep_for(d);
          auto took = Clock::now() - start;
          EXPECT_GE(took, d);
          EXPECT_LT(took, d + kSlack)
              << "overslept by "
              << std::chrono::duration_cast<std::chrono::microseconds>(took - d).count() << " us";
        }
      });
}

TEST_P(TimeTest, SleepersWakeInDeadlineOrder) {
  std::mutex mu;
  std::vector<int> order;
  std::array<std::atomic<bool>, 100> late{};
  run([&] {
    constexpr int kN = 100;
    WaitGroup join;
    join.add(kN);
    auto base = Clock::now() + 20ms;
    for (int i = kN - 1; i >= 0; --i) {  // spawned in reverse deadline order
      go([&, i] {
        const TimePoint deadline = base + i * 2ms;
        if (Clock::now() >= deadline) late[i] = true;  // it will only yield
        sleep_until(deadline);
        {
          std::lock_guard<std::mutex> l(mu);
          order.push_back(i);
        }
        join.done();
      });
    }
    join.wait();
  });
  ASSERT_EQ(order.size(), 100u);
  // Timers fire in deadline order (timer_test.cc checks the heap itself) and a woken sleeper
  // goes to the tail of the run queue, so sleepers woken in one batch keep that order too
  // (TimeOrder above). But on a slow build, spawning 100 goroutines can outlast the first
  // deadlines, and a sleeper whose deadline passed before it slept only yields: so count only
  // inversions between sleepers that slept before their deadlines and are at least 20 ms
  // apart, with one P.
  if (procs() == 1) {
    int far_inversions = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      if (late[order[i]]) continue;
      for (size_t j = i + 1; j < order.size(); ++j) {
        far_inversions += !late[order[j]] && order[i] > order[j] + 10;
      }
    }
    EXPECT_EQ(far_inversions, 0);
  }
}

// Sleepers whose timers fire in one batch run in deadline order: each is readied at the tail
// of the run queue. (Readied into runnext, as Go does, each would push the one before it to
// the tail: the last woken would run first.)
TEST(TimeOrder, SleepersWokenTogetherRunInDeadlineOrder) {
  Runtime rt(Options{.procs = 1});
  std::vector<int> order;
  std::atomic<bool> late{false};
  rt.run([&] {
    constexpr int kN = 4;
    WaitGroup join;
    join.add(kN);
    std::atomic<int> parked{0};
    const auto base = Clock::now() + 8ms;  // the batch below stays under sysmon's 10 ms
    for (int i = kN - 1; i >= 0; --i) {    // spawned in reverse deadline order
      go([&, i] {
        parked.fetch_add(1);
        if (Clock::now() >= base + i * 100us) late = true;  // it will only yield
        sleep_until(base + i * 100us);
        order.push_back(i);  // one P: no lock needed
        join.done();
      });
    }
    while (parked.load() < kN) yield();
    // Keep the only P until every deadline has passed, so all the timers fire in one batch.
    while (Clock::now() < base + kN * 100us + 1ms) {
    }
    join.wait();
  });
  if (late) GTEST_SKIP() << "a sleeper reached sleep_until after its deadline (a slow machine)";
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

// A sleeper with Wake::kFirst runs before the goroutines already queued when its timer fires;
// with the default it runs after them. One P: eight goroutines are readied into the local queue
// while the sleeper's deadline passes, then the P is given up and the timer fires.
void run_sleeper_among_queued(Wake wake, std::vector<int>* order, bool* late) {
  Runtime rt(Options{.procs = 1});
  rt.run([&] {
    constexpr int kQueued = 8;
    WaitGroup join;
    join.add(kQueued + 1);
    const auto due = Clock::now() + 4ms;  // all below stays under sysmon's 10 ms
    go([&] {
      if (Clock::now() >= due) *late = true;
      sleep_until(due, wake);
      order->push_back(-1);  // one P: no lock needed
      join.done();
    });
    yield();  // the sleeper parks
    std::vector<Chan<int>> gates;
    std::atomic<int> waiting{0};
    for (int i = 0; i < kQueued; ++i) {
      gates.push_back(make_chan<int>());
      go([&, i, gate = gates.back()]() mutable {
        waiting.fetch_add(1);  // then parks in recv: one P, nothing runs in between
        (void)gate.recv();
        order->push_back(i);
        join.done();
      });
    }
    while (waiting.load() < kQueued) yield();
    for (auto& gate : gates) gate.close();  // readied, not run: this goroutine keeps the P
    while (Clock::now() < due + 1ms) {
    }
    join.wait();  // the P is free: the sleeper's timer fires now
  });
}

TEST(TimeOrder, WakeFirstRunsAheadOfTheQueue) {
  std::vector<int> first, in_order;
  bool late = false;
  run_sleeper_among_queued(Wake::kFirst, &first, &late);
  run_sleeper_among_queued(Wake::kInOrder, &in_order, &late);
  if (late) GTEST_SKIP() << "the sleeper reached sleep_until after its deadline (a slow machine)";
  ASSERT_EQ(first.size(), 9u);
  ASSERT_EQ(in_order.size(), 9u);
  EXPECT_EQ(first.front(), -1) << "kFirst: the sleeper ran behind the queue";
  EXPECT_EQ(in_order.back(), -1) << "kInOrder: the sleeper ran ahead of the queue";
}

// More sleepers due at once than the run queue has room for, while the global queue holds a
// backlog of goroutines that have not run yet (as when 100k goroutines are spawned at once):
// the sleepers still run before that backlog. Timers fire only while the local queue has room;
// the rest stay due in the heap until it has. (Firing them all at once overflowed the local
// queue to the global queue's tail, and the sleepers there ran after the whole backlog.)
TEST(TimeOrder, SleepersDueTogetherRunBeforeTheGlobalBacklog) {
#if defined(SPINDLE_TSAN)
  // Spawning the backlog takes 7-25 ms under TSan, past sysmon's 10 ms: the P then goes to
  // another M midway, and the scenario is no longer one batch behind a full queue.
  GTEST_SKIP() << "spawning the backlog outlasts sysmon's 10 ms under TSan";
#endif
  Runtime rt(Options{.procs = 1});
  constexpr int kSleepers = 600;  // more than two local queues' worth
  constexpr int kBacklog = 1000;
  std::atomic<int> backlog_ran{0};
  std::atomic<int> sleepers_woken{0};
  std::atomic<int> backlog_before_last_sleeper{-1};
  rt.run([&] {
    WaitGroup join, gate;
    join.add(kSleepers + kBacklog);
    gate.add(1);
    std::atomic<int> at_gate{0}, asleep{0};
    TimePoint deadline;
    for (int i = 0; i < kSleepers; ++i) {
      if (i % 64 == 63) yield();  // no long run: sysmon would hand this P to another M
      go([&] {
        ++at_gate;
        gate.wait();  // every sleeper has run (its stack touched) before the deadline is set
        ++asleep;
        sleep_until(deadline);
        if (++sleepers_woken == kSleepers) backlog_before_last_sleeper = backlog_ran.load();
        join.done();
      });
    }
    while (at_gate < kSleepers) yield();
    deadline = Clock::now() + 20ms;
    gate.done();
    while (asleep < kSleepers) yield();
    // Queue the backlog just before the deadline and keep the only P until it has passed, so
    // every timer is due at the next look. Yield until then: busy since the sleepers parked,
    // this goroutine would lose its P to sysmon as soon as the timers were due (they count as
    // waiting work), and another M would fire them into an empty queue.
    while (Clock::now() < deadline - 2ms) yield();
    for (int i = 0; i < kBacklog; ++i) {  // fills the local queue, the rest goes global
      go([&] {
        ++backlog_ran;
        join.done();
      });
    }
    while (Clock::now() < deadline + 1ms) {
    }
    join.wait();
  });
  EXPECT_EQ(sleepers_woken.load(), kSleepers);
  // Ahead of the last sleeper run the local queue's goroutines (at most 257) and one from the
  // global queue per 61 schedules (measured: 240). Before the fix: all 1,000.
  EXPECT_LT(backlog_before_last_sleeper.load(), kBacklog / 2);
}

TEST_P(TimeTest, HundredThousandSleepersAllWakeNoneEarly) {
#if defined(SPINDLE_TSAN) || defined(SPINDLE_ASAN)
  const int kN = std::min(10'000, testing::parkable_goroutines());
#else
  const int kN = std::min(100'000, testing::parkable_goroutines());
#endif
  std::atomic<int> woke{0}, early{0};
  run([&] {
    WaitGroup join;
    join.add(kN);
    std::mt19937 rng(42);
    for (int i = 0; i < kN; ++i) {
      auto d = std::chrono::microseconds(rng() % 100'000);
      go([&, d] {
        auto deadline = Clock::now() + d;
        sleep_until(deadline);
        if (Clock::now() < deadline) early.fetch_add(1);
        woke.fetch_add(1);
        join.done();
      });
    }
    join.wait();
  });
  EXPECT_EQ(woke.load(), kN);
  EXPECT_EQ(early.load(), 0);
}

TEST_P(TimeTest, TimerFiresOnceAndStopPreventsIt) {
  run([] {
    auto start = Clock::now();  // before the timer: it counts 10 ms from its creation
    Timer t(10ms);
    auto fired = t.c().recv();
    ASSERT_TRUE(fired.has_value());
    EXPECT_GE(*fired - start, 10ms);
    EXPECT_FALSE(t.stop());  // already fired

    Timer stopped(20ms);
    EXPECT_TRUE(stopped.stop());
    sleep_for(40ms);
    EXPECT_TRUE(stopped.c().try_recv().would_block());
  });
}

TEST_P(TimeTest, ResetDiscardsAStaleFiring) {
  run([] {
    Timer t(1ms);
    sleep_for(10ms);  // fired, value waiting in the channel
    EXPECT_FALSE(t.reset(30ms));
    EXPECT_TRUE(t.c().try_recv().would_block()) << "stale value survived reset";
    auto start = Clock::now();
    ASSERT_TRUE(t.c().recv().has_value());
    EXPECT_GE(Clock::now() - start, 25ms);
    // Reset while pending moves the deadline.
    EXPECT_FALSE(t.reset(50ms));  // it had fired (and was received)
    EXPECT_TRUE(t.reset(5ms));
    auto again = Clock::now();
    ASSERT_TRUE(t.c().recv().has_value());
    EXPECT_LT(Clock::now() - again, 5ms + kSlack);
  });
}

TEST_P(TimeTest, TickerTicksAndAfterWorksInSelect) {
  run([] {
    auto start = Clock::now();  // before the ticker: its first tick is 5 ms after it is made
    Ticker tick(5ms);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(tick.c().recv().has_value());
    EXPECT_GE(Clock::now() - start, 25ms);
    tick.stop();

    auto never = make_chan<int>();
    auto timeout = after(15ms);
    std::optional<int> v;
    std::optional<TimePoint> t;
    Select s;
    int a = s.recv(never, &v);
    int b = s.recv(timeout, &t);
    int chosen = s.wait();
    EXPECT_NE(chosen, a);
    EXPECT_EQ(chosen, b);
    EXPECT_TRUE(t.has_value());
  });
}

TEST(TimeIdle, SleepingRuntimeUsesLittleCpu) {
  Runtime rt(Options{.procs = 2});
  rt.run([] {
    WaitGroup join;  // every sleeper woke (a slow machine may start some of them late)
    join.add(100);
    for (int i = 0; i < 100; ++i) {
      go([&] {
        sleep_for(800ms);
        join.done();
      });
    }
    join.wait();
  });
  Stats s = rt.stats();
  EXPECT_EQ(s.timers, 0);
}

SPINDLE_INSTANTIATE_PROCS(TimeTest);

}  // namespace
}  // namespace spindle::runtime
