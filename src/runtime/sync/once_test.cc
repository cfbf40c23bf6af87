#include "runtime/sync/once.h"

#include <gtest/gtest.h>

#include <atomic>

#include "runtime/runtime.h"
#include "runtime/sync/test_util.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

using testing::run_goroutines;

class OnceTest : public testing::RuntimeTest {};

// 100 concurrent callers: the function runs once, and every caller returns only after it has
// finished (the value is plain memory: TSan checks the ordering).
TEST_P(OnceTest, RunsExactlyOnceAndEveryCallerSeesItsEffect) {
  run([] {
    constexpr int kCallers = 100;
    Once once;
    std::atomic<int> calls{0};
    int value = 0;
    std::atomic<int> saw_value{0};
    run_goroutines(kCallers, [&](int) {
      once.call([&] {
        calls.fetch_add(1);
        for (int i = 0; i < 5; ++i) yield();  // let the other callers pile up
        value = 42;
      });
      if (value == 42) saw_value.fetch_add(1);
    });
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(saw_value.load(), kCallers);
    EXPECT_TRUE(once.done());
  });
}

SPINDLE_INSTANTIATE_PROCS(OnceTest);

TEST(OnceOutsideRuntime, LaterCallsDoNothing) {
  Once once;
  int calls = 0;
  EXPECT_FALSE(once.done());
  once.call([&] { ++calls; });
  once.call([&] { ++calls; });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(once.done());
}

}  // namespace
}  // namespace spindle::runtime
