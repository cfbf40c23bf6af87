// Test fixture: runs a test body as a goroutine on a fresh Runtime, once per processor count
// (1, 2, 4, 8), then checks that no goroutine was leaked. Model: google/marl src/marl_test.h.
//
//   class ChanTest : public spindle::runtime::testing::RuntimeTest {};
//   TEST_P(ChanTest, Works) { run([] { ... }); }
//   SPINDLE_INSTANTIATE_PROCS(ChanTest);
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "base/task.h"

namespace spindle::runtime::testing {

class RuntimeTest : public ::testing::TestWithParam<int> {
 protected:
  int procs() const { return GetParam(); }
  // Runs body as the main goroutine of a Runtime with procs() processors; after it returns,
  // waits (bounded, ~5 s) for the goroutines it started to finish and fails the test if any
  // are still alive (a leak, or a goroutine parked forever).
  void run(base::Task body);
};

// How many goroutines a test may park at once: 1M where stacks' guards are kernel guard
// markers, else what vm.max_map_count allows (two mappings per parked goroutine's stack).
int parkable_goroutines();

// Stress test helpers, callable from any thread (race hooks run on scheduler threads too):
// per-thread xorshift random numbers, and a busy wait of `ns` nanoseconds that widens a race
// window without parking or sleeping the thread.
uint32_t thread_rand();
void spin_ns(int64_t ns);

}  // namespace spindle::runtime::testing

#define SPINDLE_INSTANTIATE_PROCS(Suite)           \
  INSTANTIATE_TEST_SUITE_P(                        \
      Procs, Suite, ::testing::Values(1, 2, 4, 8), \
      [](const ::testing::TestParamInfo<int>& info) { return "P" + std::to_string(info.param); })
