// Heavier contention for the sync primitives (ctest label "stress"): more goroutines and
// iterations than the unit tests, mixed with yields so that parking, waking, requeueing and
// starvation-mode handoff all happen on every processor count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>

#include "runtime/runtime.h"
#include "runtime/sync/cond.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/once.h"
#include "runtime/sync/rw_mutex.h"
#include "runtime/sync/semaphore.h"
#include "runtime/sync/test_util.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

using testing::busy_for;
using testing::run_goroutines;

class SyncStressTest : public testing::RuntimeTest {};

TEST_P(SyncStressTest, MutexCounterWithMixedHoldTimes) {
  run([] {
    constexpr int kGoroutines = 16;
    constexpr int kIncrements = 3000;
    Mutex mu;
    int64_t counter = 0;
    run_goroutines(kGoroutines, [&](int id) {
      for (int i = 0; i < kIncrements; ++i) {
        MutexLock lock(mu);
        ++counter;
        // Some holders linger (so waiters park and may turn the mutex starving); most do not.
        if ((i + id) % 97 == 0) yield();
        if ((i + id) % 251 == 0) busy_for(std::chrono::microseconds(1500));
      }
    });
    EXPECT_EQ(counter, int64_t{kGoroutines} * kIncrements);
    EXPECT_EQ(mu.state_for_test(), 0);
  });
}

TEST_P(SyncStressTest, RWMutexReadersAndWriters) {
  run([] {
    const auto result = testing::run_rw_exclusion(3, 8, 2000, /*yield_every=*/32);
    EXPECT_EQ(result.torn_reads, 0);
    EXPECT_EQ(result.writes, 3 * 2000);
  });
}

TEST_P(SyncStressTest, WaitGroupRoundsWithManyWaiters) {
  run([] {
    constexpr int kRounds = 100;
    constexpr int kWorkers = 8;
    constexpr int kWaiters = 4;
    WaitGroup work;
    std::atomic<int> woke{0};
    for (int round = 0; round < kRounds; ++round) {
      work.add(kWorkers);
      WaitGroup waiters_done;
      waiters_done.add(kWaiters);
      for (int i = 0; i < kWaiters; ++i) {
        go([&] {
          work.wait();
          woke.fetch_add(1);
          waiters_done.done();
        });
      }
      for (int i = 0; i < kWorkers; ++i) go([&] { work.done(); });
      waiters_done.wait();  // every wait() of this round returned: reuse is allowed
    }
    EXPECT_EQ(woke.load(), kRounds * kWaiters);
  });
}

TEST_P(SyncStressTest, CondQueueWithBroadcastAndSignal) {
  run([] {
    constexpr int kProducers = 4;
    constexpr int kConsumers = 4;
    constexpr int kItems = 2000;
    Mutex mu;
    Cond cond(mu);
    int64_t available = 0;
    int64_t taken = 0;
    int producers_left = kProducers;
    run_goroutines(kProducers + kConsumers, [&](int id) {
      MutexLock lock(mu);
      if (id < kProducers) {
        for (int i = 0; i < kItems; ++i) {
          ++available;
          if (i % 3 == 0) {
            cond.broadcast();
          } else {
            cond.signal();
          }
          if (i % 16 == 0) {
            mu.unlock();
            yield();
            mu.lock();
          }
        }
        if (--producers_left == 0) cond.broadcast();
        return;
      }
      for (;;) {
        while (available == 0 && producers_left > 0) cond.wait();
        if (available == 0) return;
        --available;
        ++taken;
      }
    });
    EXPECT_EQ(taken, int64_t{kProducers} * kItems);
  });
}

TEST_P(SyncStressTest, WeightedSemaphoreNeverOversubscribed) {
  run([] {
    constexpr int64_t kTokens = 8;
    constexpr int kGoroutines = 32;
    constexpr int kIterations = 200;
    Semaphore sem(kTokens);
    std::atomic<int64_t> in_use{0};
    std::atomic<bool> oversubscribed{false};
    run_goroutines(kGoroutines, [&](int id) {
      const int64_t weight = 1 + id % 4;
      for (int i = 0; i < kIterations; ++i) {
        sem.acquire(weight);
        if (in_use.fetch_add(weight) + weight > kTokens) oversubscribed = true;
        if (i % 4 == 0) yield();
        in_use.fetch_sub(weight);
        sem.release(weight);
      }
    });
    EXPECT_FALSE(oversubscribed.load());
    EXPECT_TRUE(sem.try_acquire(kTokens));
    sem.release(kTokens);
  });
}

// A primitive may be destroyed as soon as a goroutine sees it free, while the goroutine that
// freed it is still returning from unlock() / done() / call() (the reference-counted object
// whose last owner frees it). Heap objects, so ASan reports any touch after the delete and
// TSan any unordered one. The windows are a few instructions wide: a smoke test, which found
// the original Sema::release race only now and then (under TSan).
TEST_P(SyncStressTest, DestroyedByTheLastUserWhileOthersReturn) {
  run([] {
    constexpr int kIterations = 1000;
    constexpr int kUsers = 3;
    struct Shared {
      Mutex mu;
      Once once;
      WaitGroup wg;
      Semaphore sem{1};
      int refs = kUsers;                   // guarded by mu
      std::atomic<int> once_refs{kUsers};  // for the Once-only round
    };
    for (int i = 0; i < kIterations; ++i) {
      auto* shared = new Shared;
      WaitGroup joined;
      joined.add(kUsers);
      for (int u = 0; u < kUsers; ++u) {
        go([shared, &joined, round = i % 3] {
          if (round == 0) {  // Mutex: the last unlocker deletes
            shared->mu.lock();
            const bool last = --shared->refs == 0;
            shared->mu.unlock();
            if (last) delete shared;
          } else if (round == 1) {  // Once: the last caller to return deletes
            shared->once.call([] { yield(); });
            if (shared->once_refs.fetch_sub(1) == 1) delete shared;
          } else {  // Semaphore guards the count; the last releaser deletes
            shared->sem.acquire();
            const bool last = --shared->refs == 0;
            shared->sem.release();
            if (last) delete shared;
          }
          joined.done();
        });
      }
      joined.wait();
    }
    // WaitGroup: the waiter deletes as soon as wait() returns, while done() may still run.
    for (int i = 0; i < kIterations; ++i) {
      auto* wg = new WaitGroup;
      wg->add(2);
      go([wg] { wg->done(); });
      go([wg] { wg->done(); });
      wg->wait();
      delete wg;
    }
  });
}

SPINDLE_INSTANTIATE_PROCS(SyncStressTest);

}  // namespace
}  // namespace spindle::runtime
