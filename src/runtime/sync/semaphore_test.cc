#include "runtime/sync/semaphore.h"

#include <gtest/gtest.h>

#include <atomic>

#include "runtime/runtime.h"
#include "runtime/sync/test_util.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

using testing::run_goroutines;
using testing::yield_until;

class SemaphoreTest : public testing::RuntimeTest {};

TEST_P(SemaphoreTest, BoundedConcurrencyIsNeverExceeded) {
  run([] {
    constexpr int kTokens = 3;
    constexpr int kGoroutines = 24;
    constexpr int kIterations = 20;
    Semaphore sem(kTokens);
    std::atomic<int> inside{0};
    std::atomic<int> max_inside{0};
    run_goroutines(kGoroutines, [&](int) {
      for (int i = 0; i < kIterations; ++i) {
        sem.acquire();
        const int now = inside.fetch_add(1) + 1;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        yield();
        inside.fetch_sub(1);
        sem.release();
      }
    });
    EXPECT_LE(max_inside.load(), kTokens);
    EXPECT_GE(max_inside.load(), 1);
    EXPECT_TRUE(sem.try_acquire(kTokens));  // every token came back
    sem.release(kTokens);
  });
}

// A large request at the head is served before a small one behind it, even when the small
// one would fit first: strict arrival order, so large requests cannot starve.
TEST_P(SemaphoreTest, WeightedAcquireIsFifo) {
  run([] {
    Semaphore sem(10);
    sem.acquire(10);
    std::atomic<bool> large_got{false};
    std::atomic<bool> small_got{false};
    WaitGroup wg;
    wg.add(2);
    go([&] {
      sem.acquire(6);
      large_got = true;
      wg.done();
    });
    ASSERT_TRUE(yield_until([&] { return sem.waiters_for_test() == 1; }));
    go([&] {
      sem.acquire(1);
      small_got = true;
      wg.done();
    });
    ASSERT_TRUE(yield_until([&] { return sem.waiters_for_test() == 2; }));
    sem.release(4);  // 4 free: the small one would fit, but the large one is first
    EXPECT_FALSE(sem.try_acquire(1));
    EXPECT_EQ(sem.waiters_for_test(), 2u);
    sem.release(2);  // 6 free: the large one gets all of them, the small one still waits
    EXPECT_EQ(sem.waiters_for_test(), 1u);
    ASSERT_TRUE(yield_until([&] { return large_got.load(); }));
    EXPECT_FALSE(small_got.load());
    sem.release(4);  // main's last 4: the small one fits now
    wg.wait();
    EXPECT_TRUE(small_got.load());
    sem.release(7);  // the tokens the two goroutines still hold
    EXPECT_TRUE(sem.try_acquire(10));
    sem.release(10);
  });
}

TEST_P(SemaphoreTest, TryAcquireNeverWaits) {
  run([] {
    Semaphore sem(2);
    EXPECT_TRUE(sem.try_acquire(2));
    EXPECT_FALSE(sem.try_acquire(1));
    sem.release(1);
    EXPECT_TRUE(sem.try_acquire(1));
    EXPECT_FALSE(sem.try_acquire(3));
    sem.release(2);
    EXPECT_TRUE(sem.try_acquire(0));
  });
}

SPINDLE_INSTANTIATE_PROCS(SemaphoreTest);

}  // namespace
}  // namespace spindle::runtime
