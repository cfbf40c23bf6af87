#include "runtime/sync/cond.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <deque>

#include "runtime/runtime.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/test_util.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

using testing::run_goroutines;

class CondTest : public testing::RuntimeTest {};

// A bounded buffer: producers wait for room, consumers for items, each in a predicate loop.
TEST_P(CondTest, ProducersAndConsumersWithSignal) {
  run([] {
    constexpr int kProducers = 2;
    constexpr int kConsumers = 2;
    constexpr int kItemsEach = 500;
    constexpr size_t kCapacity = 4;
    Mutex mu;
    Cond not_full(mu);
    Cond not_empty(mu);
    std::deque<int64_t> buffer;
    int consumed = 0;
    int64_t sum = 0;
    run_goroutines(kProducers + kConsumers, [&](int id) {
      if (id < kProducers) {
        for (int i = 1; i <= kItemsEach; ++i) {
          MutexLock lock(mu);
          while (buffer.size() == kCapacity) not_full.wait();
          buffer.push_back(i);
          not_empty.signal();
        }
        return;
      }
      for (;;) {
        MutexLock lock(mu);
        while (buffer.empty() && consumed < kProducers * kItemsEach) not_empty.wait();
        if (buffer.empty()) {
          not_empty.broadcast();  // everything is consumed: release the other consumers
          return;
        }
        sum += buffer.front();
        buffer.pop_front();
        if (++consumed == kProducers * kItemsEach) not_empty.broadcast();
        not_full.signal();
      }
    });
    EXPECT_EQ(consumed, kProducers * kItemsEach);
    EXPECT_EQ(sum, int64_t{kProducers} * kItemsEach * (kItemsEach + 1) / 2);
  });
}

TEST_P(CondTest, BroadcastWakesEveryWaiter) {
  run([] {
    constexpr int kWaiters = 16;
    Mutex mu;
    Cond cond(mu);
    bool open = false;
    int waiting = 0;
    int woke = 0;
    run_goroutines(kWaiters + 1, [&](int id) {
      MutexLock lock(mu);
      if (id == kWaiters) {
        while (waiting < kWaiters) {  // the opener waits until all are parked, then opens
          mu.unlock();
          yield();
          mu.lock();
        }
        open = true;
        cond.broadcast();
        return;
      }
      ++waiting;
      while (!open) cond.wait();
      ++woke;
    });
    EXPECT_EQ(woke, kWaiters);
  });
}

// Two goroutines take turns; each signals the other right after changing the turn. A lost
// wakeup (signal between the waiter's unlock and its park) would hang here.
TEST_P(CondTest, PingPongLosesNoWakeup) {
  run([] {
    constexpr int kRounds = 1000;
    Mutex mu;
    Cond cond(mu);
    int turn = 0;
    int64_t hits[2] = {0, 0};
    run_goroutines(2, [&](int me) {
      for (int i = 0; i < kRounds; ++i) {
        MutexLock lock(mu);
        while (turn != me) cond.wait();
        ++hits[me];
        turn = 1 - me;
        cond.signal();
      }
    });
    EXPECT_EQ(hits[0], kRounds);
    EXPECT_EQ(hits[1], kRounds);
  });
}

TEST_P(CondTest, SignalWakesOneWaiterAtATime) {
  run([] {
    constexpr int kWaiters = 6;
    Mutex mu;
    Cond cond(mu);
    int tokens = 0;
    int waiting = 0;
    int served = 0;
    run_goroutines(kWaiters + 1, [&](int id) {
      MutexLock lock(mu);
      if (id == kWaiters) {
        for (int i = 0; i < kWaiters; ++i) {
          while (waiting == 0) {
            mu.unlock();
            yield();
            mu.lock();
          }
          ++tokens;
          cond.signal();
        }
        return;
      }
      ++waiting;
      while (tokens == 0) cond.wait();
      --tokens;
      --waiting;
      ++served;
    });
    EXPECT_EQ(served, kWaiters);
    EXPECT_EQ(tokens, 0);
  });
}

SPINDLE_INSTANTIATE_PROCS(CondTest);

TEST(CondOutsideRuntime, SignalAndBroadcastWithoutWaitersDoNothing) {
  Mutex mu;
  Cond cond(mu);
  cond.signal();
  cond.broadcast();
}

}  // namespace
}  // namespace spindle::runtime
