// Misuse of the sync primitives is fatal with a clear message, never a hang or a silent
// miscount. Each statement runs in a re-executed child (death_test_style "threadsafe"), so the
// parent's runtimes and threads do not matter.
#include <gtest/gtest.h>

#include "runtime/runtime.h"
#include "runtime/sync/cond.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/rw_mutex.h"
#include "runtime/sync/semaphore.h"
#include "runtime/sync/wait_group.h"

namespace spindle::runtime {
namespace {

class SyncDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(SyncDeathTest, UnlockOfUnlockedMutex) {
  EXPECT_DEATH(
      {
        Mutex mu;
        mu.unlock();
      },
      "fatal error: sync: unlock of unlocked mutex");
}

TEST_F(SyncDeathTest, UnlockOfUnlockedRWMutex) {
  EXPECT_DEATH(
      {
        RWMutex mu;
        mu.unlock();
      },
      "fatal error: sync: Unlock of unlocked RWMutex");
  EXPECT_DEATH(
      {
        RWMutex mu;
        mu.unlock_shared();
      },
      "fatal error: sync: RUnlock of unlocked RWMutex");
}

TEST_F(SyncDeathTest, NegativeWaitGroupCounter) {
  EXPECT_DEATH(
      {
        WaitGroup wg;
        wg.add(1);
        wg.done();
        wg.done();
      },
      "fatal error: sync: negative WaitGroup counter");
}

// Only a race produces "counter zero while goroutines wait" at the moment of an add.
TEST_F(SyncDeathTest, WaitGroupAddConcurrentWithWait) {
  EXPECT_DEATH(
      {
        WaitGroup wg;
        wg.set_state_for_test(0, 1);
        wg.add(1);
      },
      "fatal error: sync: WaitGroup misuse: Add called concurrently with Wait");
}

TEST_F(SyncDeathTest, WaitGroupReusedBeforeWaitReturned) {
  EXPECT_DEATH(
      {
        Runtime rt(Options{.procs = 1});
        rt.run([] {
          WaitGroup wg;
          wg.add(1);
          go([&wg] { wg.wait(); });
          yield();    // the waiter parks
          wg.done();  // releases it (it runs later: one processor)
          wg.add(1);  // a new round before its wait() has returned
          yield();
          wg.done();
        });
      },
      "fatal error: sync: WaitGroup is reused before previous Wait has returned");
}

TEST_F(SyncDeathTest, SemaphoreReleasedMoreThanHeld) {
  EXPECT_DEATH(
      {
        Semaphore sem(2);
        sem.acquire(1);
        sem.release(2);
      },
      "fatal error: sync: Semaphore released more than held");
}

TEST_F(SyncDeathTest, SemaphoreAcquireBeyondItsSize) {
  EXPECT_DEATH(
      {
        Semaphore sem(2);
        sem.acquire(3);
      },
      "fatal error: sync: Semaphore.acquire\\(3\\) exceeds its size 2");
}

// Waiting needs a goroutine: from a plain thread the scheduler's current() is fatal and names
// the call, instead of blocking the thread forever.
TEST_F(SyncDeathTest, WaitingOutsideAGoroutine) {
  EXPECT_DEATH(
      {
        Mutex mu;
        mu.lock();
        mu.lock();
      },
      "sync: Mutex.lock \\(contended\\) called from outside a goroutine");
  EXPECT_DEATH(
      {
        WaitGroup wg;
        wg.add(1);
        wg.wait();
      },
      "sync: WaitGroup.wait called from outside a goroutine");
  EXPECT_DEATH(
      {
        Mutex mu;
        Cond cond(mu);
        mu.lock();
        cond.wait();
      },
      "sync: Cond.wait called from outside a goroutine");
  EXPECT_DEATH(
      {
        Semaphore sem(1);
        sem.acquire();
        sem.acquire();
      },
      "sync: Semaphore.acquire called from outside a goroutine");
}

}  // namespace
}  // namespace spindle::runtime
