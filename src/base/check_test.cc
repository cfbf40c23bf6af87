#include "base/check.h"

#include <gtest/gtest.h>

namespace spindle::base {
namespace {

TEST(CheckDeathTest, FailedCheckNamesConditionAndFunction) {
  int x = 1;
  EXPECT_DEATH(SPINDLE_CHECK(x == 2, "x must be two"),
               "fatal error: check failed: x == 2: x must be two(.|\n)*in TestBody");
}

TEST(CheckDeathTest, FatalRawPrintsExactText) {
  EXPECT_DEATH(fatal_raw("all goroutines are asleep - deadlock!"),
               "^fatal error: all goroutines are asleep - deadlock!\n");
}

TEST(Check, PassingCheckDoesNothing) {
  int calls = 0;
  SPINDLE_CHECK(++calls == 1, "evaluated once");
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace spindle::base
