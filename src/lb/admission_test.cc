#include "lb/admission.h"

#include <gtest/gtest.h>

#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::lb {
namespace {

using namespace std::chrono_literals;
using base::Clock;

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

// Two waiters, the old one queued 20 ms before the new one, then `hold` before the slot is
// freed: the order in which they were admitted (1 = first).
struct Ranks {
  int old_rank = 0, new_rank = 0;
};
Ranks admission_order(base::Duration queue_wait, base::Duration hold) {
  Admission a(1, queue_wait);
  EXPECT_TRUE(a.admit());
  runtime::WaitGroup wg;
  std::atomic<int> order{0};
  Ranks r;
  auto waiter = [&](int* rank) {
    runtime::go([&, rank] {
      EXPECT_TRUE(a.admit());
      *rank = order.fetch_add(1) + 1;
      a.release();
      wg.done();
    });
  };
  wg.add(2);
  waiter(&r.old_rank);
  runtime::sleep_for(20ms);  // the old waiter is queued
  waiter(&r.new_rank);
  runtime::sleep_for(hold);
  EXPECT_EQ(a.queued(), 2u);
  a.release();
  wg.wait();
  EXPECT_EQ(a.in_flight(), 0);
  return r;
}

// A short queue is served in order: nobody starves while the waits are short.
TEST_P(AdmissionTest, AFreedSlotGoesToTheOldestWaiterWhileTheQueueIsShort) {
  run([] {
    Ranks r = admission_order(/*queue_wait=*/5s, /*hold=*/20ms);
    EXPECT_EQ(r.old_rank, 1);
    EXPECT_EQ(r.new_rank, 2);
  });
}

// Congested (the oldest waited half the deadline): newest first, so under sustained overload
// the admitted requests are those that waited least.
TEST_P(AdmissionTest, AFreedSlotGoesToTheNewestWaiterOnceTheQueueIsCongested) {
  run([] {
    Ranks r = admission_order(/*queue_wait=*/400ms, /*hold=*/220ms);
    EXPECT_EQ(r.new_rank, 1);
    EXPECT_EQ(r.old_rank, 2);
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

AdaptivePolicy small_policy() {
  AdaptivePolicy p;
  p.min_limit = 4;
  p.initial_limit = 8;
  return p;
}

void record(Admission& a, std::uint64_t least_ms) {
  for (std::uint64_t i = 0; i < 10; ++i) a.record_latency((least_ms + i) * 1'000'000);
}

// A cut takes effect for new requests at once, and freed slots go back to the count (not to
// waiters) until in-flight is under the new limit.
TEST_P(AdmissionTest, AnAdaptiveCutHoldsRequestsUntilInFlightFallsUnderIt) {
  run([] {
    Admission a(small_policy(), 0ms);
    for (int i = 0; i < 8; ++i) EXPECT_TRUE(a.admit());
    EXPECT_FALSE(a.admit());  // queue_wait 0: refused at once
    record(a, 1);
    a.control_step();  // floor 1 ms, limit reached, no queue: grows to 12
    EXPECT_EQ(a.limit(), 12);
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(a.admit());
    EXPECT_FALSE(a.admit());
    record(a, 100);
    a.control_step();  // a 99 ms standing queue: halved
    EXPECT_EQ(a.limit(), 6);
    for (int i = 0; i < 6; ++i) a.release();
    EXPECT_FALSE(a.admit());  // 6 in flight: at the limit
    a.release();
    EXPECT_TRUE(a.admit());
    for (int i = 0; i < 6; ++i) a.release();
    EXPECT_EQ(a.in_flight(), 0);
    ASSERT_NE(a.adaptive(), nullptr);
    EXPECT_EQ(a.adaptive()->cuts(), 1u);
  });
}

// A raised limit frees slots that no release will hand on: the control step does.
TEST_P(AdmissionTest, ARaisedAdaptiveLimitAdmitsWaiters) {
  run([] {
    Admission a(small_policy(), 5s);
    for (int i = 0; i < 8; ++i) EXPECT_TRUE(a.admit());
    runtime::WaitGroup wg;
    std::atomic<int> admitted{0};
    for (int i = 0; i < 3; ++i) {
      wg.add(1);
      runtime::go([&] {
        if (a.admit()) admitted.fetch_add(1);
        wg.done();
      });
    }
    runtime::sleep_for(20ms);
    EXPECT_EQ(a.queued(), 3u);
    record(a, 1);
    auto start = Clock::now();
    a.control_step();  // reached, no standing queue: 8 -> 12
    wg.wait();
    EXPECT_LT(Clock::now() - start, 1s);
    EXPECT_EQ(admitted.load(), 3);
    EXPECT_EQ(a.in_flight(), 11);
    for (int i = 0; i < 11; ++i) a.release();
    EXPECT_EQ(a.in_flight(), 0);
  });
}

// The fixed limit has no controller: control_step changes nothing.
TEST_P(AdmissionTest, AFixedLimitDoesNotMove) {
  run([] {
    Admission a(2, 0ms);
    EXPECT_EQ(a.adaptive(), nullptr);
    a.record_latency(100'000'000);
    a.control_step();
    EXPECT_EQ(a.limit(), 2);
  });
}

SPINDLE_INSTANTIATE_PROCS(AdmissionTest);

}  // namespace
}  // namespace spindle::lb
