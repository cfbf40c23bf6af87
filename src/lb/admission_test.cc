#include "lb/admission.h"

#include <gtest/gtest.h>

#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::lb {
namespace {

using namespace std::chrono_literals;
using runtime::Clock;

class AdmissionTest : public runtime::testing::RuntimeTest {};

TEST_P(AdmissionTest, RefusesAfterTheQueueDeadline) {
  run([] {
    Admission a(2, 50ms);
    EXPECT_TRUE(a.admit());
    EXPECT_TRUE(a.admit());
    auto start = Clock::now();
    EXPECT_FALSE(a.admit());
    EXPECT_GE(Clock::now() - start, 50ms);
    EXPECT_EQ(a.rejected(), 1u);
    a.release();
    EXPECT_TRUE(a.admit());
    a.release();
    a.release();
    EXPECT_EQ(a.in_flight(), 0);
  });
}

TEST_P(AdmissionTest, AReleasedSlotGoesToAWaiter) {
  run([] {
    Admission a(1, 5s);
    EXPECT_TRUE(a.admit());
    runtime::WaitGroup wg;
    wg.add(1);
    bool admitted = false;
    runtime::go([&] {
      admitted = a.admit();
      if (admitted) a.release();
      wg.done();
    });
    runtime::sleep_for(20ms);
    auto start = Clock::now();
    a.release();
    wg.wait();
    EXPECT_TRUE(admitted);
    EXPECT_LT(Clock::now() - start, 1s);
    EXPECT_EQ(a.in_flight(), 0);
  });
}

// Newest first: under sustained overload the admitted requests are those that waited least.
TEST_P(AdmissionTest, AFreedSlotGoesToTheNewestWaiter) {
  run([] {
    Admission a(1, 5s);
    EXPECT_TRUE(a.admit());
    runtime::WaitGroup wg;
    std::atomic<int> order{0};
    int old_rank = 0, new_rank = 0;
    auto waiter = [&](int* rank) {
      runtime::go([&, rank] {
        EXPECT_TRUE(a.admit());
        *rank = order.fetch_add(1) + 1;
        a.release();
        wg.done();
      });
    };
    wg.add(2);
    waiter(&old_rank);
    runtime::sleep_for(20ms);  // the old waiter is on the stack
    waiter(&new_rank);
    runtime::sleep_for(20ms);
    EXPECT_EQ(a.queued(), 2u);
    a.release();
    wg.wait();
    EXPECT_EQ(new_rank, 1);
    EXPECT_EQ(old_rank, 2);
    EXPECT_EQ(a.in_flight(), 0);
  });
}

TEST_P(AdmissionTest, ManyGoroutinesNeverExceedTheLimit) {
  run([] {
    Admission a(4, 1s);
    std::atomic<int> now{0}, peak{0};
    runtime::WaitGroup wg;
    for (int i = 0; i < 64; ++i) {
      wg.add(1);
      runtime::go([&] {
        for (int k = 0; k < 20; ++k) {
          if (!a.admit()) continue;
          int n = now.fetch_add(1) + 1;
          int p = peak.load();
          while (n > p && !peak.compare_exchange_weak(p, n)) {
          }
          runtime::yield();
          now.fetch_sub(1);
          a.release();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_LE(peak.load(), 4);
    EXPECT_EQ(a.in_flight(), 0);
  });
}

SPINDLE_INSTANTIATE_PROCS(AdmissionTest);

}  // namespace
}  // namespace spindle::lb
