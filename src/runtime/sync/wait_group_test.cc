#include "runtime/sync/wait_group.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/sync/test_util.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

using testing::run_goroutines;

class WaitGroupTest : public testing::RuntimeTest {};

// The results are plain memory: wait() must order every done() before it returns (TSan).
TEST_P(WaitGroupTest, WaitReturnsAfterEveryDone) {
  run([] {
    constexpr int kWorkers = 16;
    std::vector<int64_t> results(kWorkers, 0);
    WaitGroup wg;
    wg.add(kWorkers);
    for (int i = 0; i < kWorkers; ++i) {
      go([&results, &wg, i] {
        if (i % 2 == 0) yield();
        results[i] = int64_t{i} * i;
        wg.done();
      });
    }
    wg.wait();
    for (int i = 0; i < kWorkers; ++i) EXPECT_EQ(results[i], int64_t{i} * i);
  });
}

TEST_P(WaitGroupTest, ReusableOnceTheCounterIsZero) {
  run([] {
    constexpr int kRounds = 50;
    constexpr int kWorkers = 4;
    WaitGroup wg;
    int64_t total = 0;
    std::atomic<int64_t> round_sum{0};
    for (int round = 0; round < kRounds; ++round) {
      wg.add(kWorkers);
      for (int i = 0; i < kWorkers; ++i) {
        go([&] {
          round_sum.fetch_add(1);
          wg.done();
        });
      }
      wg.wait();
      EXPECT_EQ(round_sum.exchange(0), kWorkers) << "round " << round;
      total += kWorkers;
    }
    EXPECT_EQ(total, int64_t{kRounds} * kWorkers);
  });
}

TEST_P(WaitGroupTest, ManyWaitersAllWakeUp) {
  run([] {
    constexpr int kWaiters = 16;
    WaitGroup gate;
    gate.add(1);
    std::atomic<int> woke{0};
    WaitGroup joined;
    joined.add(kWaiters);
    for (int i = 0; i < kWaiters; ++i) {
      go([&] {
        gate.wait();
        woke.fetch_add(1);
        joined.done();
      });
    }
    for (int i = 0; i < 4; ++i) yield();  // let some of them park (the rest return at once)
    EXPECT_EQ(woke.load(), 0);
    gate.done();
    joined.wait();
    EXPECT_EQ(woke.load(), kWaiters);
  });
}

TEST_P(WaitGroupTest, AddOfSeveralAndDoneFromManyGoroutines) {
  run([] {
    WaitGroup wg;
    std::atomic<int> finished{0};
    wg.add(3);
    wg.add(5);
    run_goroutines(8, [&](int) {
      finished.fetch_add(1);
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(finished.load(), 8);
  });
}

SPINDLE_INSTANTIATE_PROCS(WaitGroupTest);

TEST(WaitGroupOutsideRuntime, WaitOnZeroReturnsAtOnceFromAnyThread) {
  WaitGroup wg;
  wg.wait();
  wg.add(2);
  wg.done();
  wg.done();
  wg.wait();
}

}  // namespace
}  // namespace spindle::runtime
