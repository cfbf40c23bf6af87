#include "runtime/sync/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "runtime/runtime.h"
#include "runtime/sync/test_util.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

using testing::busy_for;
using testing::Deadline;
using testing::run_goroutines;

class MutexTest : public testing::RuntimeTest {};

TEST_P(MutexTest, UncontendedLockAndUnlockLeaveAZeroState) {
  run([] {
    Mutex mu;
    mu.lock();
    EXPECT_EQ(mu.state_for_test(), Mutex::kLocked);
    mu.unlock();
    EXPECT_EQ(mu.state_for_test(), 0);
  });
}

TEST_P(MutexTest, TryLockFailsWhileHeldByAnyone) {
  run([] {
    Mutex mu;
    ASSERT_TRUE(mu.try_lock());
    EXPECT_FALSE(mu.try_lock());
    bool other_got_it = true;
    run_goroutines(1, [&](int) { other_got_it = mu.try_lock(); });
    EXPECT_FALSE(other_got_it);
    mu.unlock();
    EXPECT_TRUE(mu.try_lock());
    mu.unlock();
  });
}

TEST_P(MutexTest, WorksWithStandardLockGuards) {
  run([] {
    Mutex mu;
    {
      std::lock_guard<Mutex> guard(mu);
      std::unique_lock<Mutex> attempt(mu, std::try_to_lock);
      EXPECT_FALSE(attempt.owns_lock());
    }
    std::unique_lock<Mutex> lock(mu);
    EXPECT_TRUE(lock.owns_lock());
  });
}

// N goroutines x M increments of a plain counter: any lost update or overlap shows; under
// TSan a missing happens-before edge between critical sections is reported as a race.
TEST_P(MutexTest, MutualExclusionUnderContention) {
  run([] {
    constexpr int kGoroutines = 8;
    constexpr int kIncrements = 2000;
    Mutex mu;
    int64_t counter = 0;
    std::atomic<int> inside{0};
    std::atomic<bool> overlapped{false};
    run_goroutines(kGoroutines, [&](int) {
      for (int i = 0; i < kIncrements; ++i) {
        MutexLock lock(mu);
        if (inside.fetch_add(1) != 0) overlapped = true;
        ++counter;
        inside.fetch_sub(1);
      }
    });
    EXPECT_FALSE(overlapped.load());
    EXPECT_EQ(counter, int64_t{kGoroutines} * kIncrements);
    EXPECT_EQ(mu.state_for_test(), 0);
  });
}

// The holder yields inside its critical section, so the others must park on the mutex (not
// only spin): exercises the park / wake / requeue path on every processor count.
TEST_P(MutexTest, WaitersParkWhileTheHolderYields) {
  run([] {
    constexpr int kGoroutines = 32;
    constexpr int kIterations = 50;
    Mutex mu;
    int64_t counter = 0;
    run_goroutines(kGoroutines, [&](int) {
      for (int i = 0; i < kIterations; ++i) {
        MutexLock lock(mu);
        const int64_t seen = counter;
        yield();
        counter = seen + 1;
      }
    });
    EXPECT_EQ(counter, int64_t{kGoroutines} * kIterations);
    EXPECT_EQ(mu.state_for_test(), 0);
  });
}

TEST_P(MutexTest, UnlockByAnotherGoroutineWakesTheWaiter) {
  run([] {
    Mutex mu;
    mu.lock();
    std::atomic<bool> acquired{false};
    WaitGroup wg;
    wg.add(1);
    go([&] {
      mu.lock();  // parks: main holds it
      acquired = true;
      mu.unlock();
      wg.done();
    });
    yield();
    EXPECT_FALSE(acquired.load());
    mu.unlock();  // Go's rule: a mutex is not owned by the goroutine that locked it
    wg.wait();
    EXPECT_TRUE(acquired.load());
  });
}

// Starvation mode: a goroutine that re-locks in a tight loop, holding the mutex nearly all
// the time, must not keep a waiter out. The waiter needs 10 acquisitions; the hot goroutine
// gives up after a generous deadline, and the test asserts the waiter finished first.
TEST_P(MutexTest, WaiterIsNotStarvedByAHotLocker) {
  const bool one_proc = procs() == 1;
  run([one_proc] {
    constexpr int kWaiterLocks = 10;
    Mutex mu;
    std::atomic<bool> waiter_done{false};
    std::atomic<int> waiter_locks{0};
    bool hot_timed_out = false;
    int64_t hot_locks = 0;
    WaitGroup wg;
    wg.add(2);
    go([&] {
      Deadline deadline(std::chrono::seconds(20));
      while (!waiter_done.load()) {
        if (deadline.expired()) {
          hot_timed_out = true;
          break;
        }
        mu.lock();
        busy_for(std::chrono::microseconds(20));
        mu.unlock();
        // No preemption: give the scheduler a chance now and then (always with one P).
        if (one_proc || ++hot_locks % 64 == 0) yield();
      }
      wg.done();
    });
    go([&] {
      for (int i = 0; i < kWaiterLocks; ++i) {
        mu.lock();
        waiter_locks.fetch_add(1);
        mu.unlock();
      }
      waiter_done = true;
      wg.done();
    });
    wg.wait();
    EXPECT_FALSE(hot_timed_out) << "the waiter got the mutex only " << waiter_locks.load()
                                << " times while another goroutine kept re-locking it";
    EXPECT_EQ(waiter_locks.load(), kWaiterLocks);
    EXPECT_EQ(mu.state_for_test(), 0);
  });
}

SPINDLE_INSTANTIATE_PROCS(MutexTest);

TEST(MutexOutsideRuntime, UncontendedUseNeedsNoGoroutine) {
  Mutex mu;
  mu.lock();
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

}  // namespace
}  // namespace spindle::runtime
