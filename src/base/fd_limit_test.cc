#include "base/fd_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace spindle::base {
namespace {

// Lowers the soft limit, raises it again, and restores what the test started with.
TEST(FdLimit, RaisesTheSoftLimitToTheHardOne) {
  rlimit start{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &start), 0);
  if (start.rlim_max != RLIM_INFINITY && start.rlim_max < 512) GTEST_SKIP() << "hard limit < 512";
  rlimit low = start;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  FdLimit l = raise_fd_limit();
  EXPECT_EQ(l.error, 0);
  EXPECT_EQ(l.soft_before, 256u);
  EXPECT_GT(l.soft, 256u);
  EXPECT_EQ(fd_limit(), l.soft);
  if (start.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(l.soft, start.rlim_max);
  }
  EXPECT_NE(l.describe().find("soft limit 256 raised to "), std::string::npos) << l.describe();
  EXPECT_NE(l.describe().find("hard limit"), std::string::npos) << l.describe();
  // Already at the hard limit: nothing to do.
  FdLimit again = raise_fd_limit();
  EXPECT_EQ(again.soft, again.soft_before);
  EXPECT_NE(again.describe().find(" kept "), std::string::npos) << again.describe();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &start), 0);
}

}  // namespace
}  // namespace spindle::base
