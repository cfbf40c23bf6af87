#include "net/file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "runtime/testing.h"

namespace spindle::net {
namespace {

class FileTest : public runtime::testing::RuntimeTest {};

TEST_P(FileTest, WriteThenReadBack) {
  run([] {
    std::string path = "/tmp/spindle_file_test_" + std::to_string(getpid());
    std::string data(200'000, 'x');
    data[12345] = 'y';
    ASSERT_TRUE(write_file(path, data).ok());
    auto back = read_file(path);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(*back, data);
    ::unlink(path.c_str());
  });
}

TEST_P(FileTest, MissingFileIsAnErrorWithErrnoAndPath) {
  run([] {
    auto r = read_file("/nonexistent/spindle");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ENOENT);
    EXPECT_NE(r.error().message().find("/nonexistent/spindle"), std::string::npos);
  });
}

SPINDLE_INSTANTIATE_PROCS(FileTest);

}  // namespace
}  // namespace spindle::net
