#include "lb/access_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

namespace spindle::lb {
namespace {

AccessRecord sample() {
  return AccessRecord{.unix_ns = 1'796'378'857'123'456'000,  // 2026-12-04T10:07:37.123456Z
                      .client = "127.0.0.1:40000",
                      .method = "GET",
                      .target = "/a?b=\"c\"",
                      .version_minor = 1,
                      .status = 200,
                      .bytes_in = 3,
                      .bytes_out = 17,
                      .backend = "b1",
                      .backend_url = "http://127.0.0.1:9001",
                      .upstream_ns = 1'500'000,
                      .total_ns = 2'000'000,
                      .retries = 0,
                      .failovers = 1,
                      .request_id = "abc-123",
                      .referer = "",
                      .user_agent = "curl/8"};
}

TEST(AccessLine, Json) {
  EXPECT_EQ(format_access_line(AccessLogFormat::kJson, sample()),
            "{\"time\":\"2026-12-04T10:07:37.123456Z\",\"client\":\"127.0.0.1:40000\","
            "\"method\":\"GET\",\"target\":\"/a?b=\\\"c\\\"\",\"status\":200,\"bytes_in\":3,"
            "\"bytes_out\":17,\"backend\":\"b1\",\"backend_url\":\"http://127.0.0.1:9001\","
            "\"upstream_seconds\":0.001500,\"total_seconds\":0.002000,\"retries\":0,"
            "\"failovers\":1,\"request_id\":\"abc-123\"}\n");
  AccessRecord none = sample();
  none.upstream_ns = -1;
  EXPECT_NE(format_access_line(AccessLogFormat::kJson, none).find("\"upstream_seconds\":null"),
            std::string::npos);
}

TEST(AccessLine, CombinedIsNginxsLayoutThenOurFields) {
  EXPECT_EQ(format_access_line(AccessLogFormat::kCombined, sample()),
            "127.0.0.1 - - [04/Dec/2026:10:07:37 +0000] \"GET /a?b=\\x22c\\x22 HTTP/1.1\" 200 17 "
            "\"-\" \"curl/8\" rt=0.002000 urt=0.001500 backend=\"b1\" "
            "upstream=\"http://127.0.0.1:9001\" bytes_in=3 retries=0 failovers=1 "
            "rid=\"abc-123\"\n");
}

TEST(RequestId, ClientsWellFormedIdIsTaken) {
  const http::Header ok[] = {{"x-request-id", "req-42"}};
  EXPECT_EQ(client_request_id(http::HeaderList(ok)), "req-42");
  const std::string too_long(kMaxRequestIdLength + 1, 'a');
  const http::Header bad[][1] = {{{"X-Request-Id", ""}},
                                 {{"X-Request-Id", "has space"}},
                                 {{"X-Request-Id", "caf\xc3\xa9"}},
                                 {{"X-Request-Id", too_long}}};
  for (const auto& fields : bad) EXPECT_EQ(client_request_id(http::HeaderList(fields)), "");
  const http::Header two[] = {{"X-Request-Id", "a"}, {"X-Request-Id", "b"}};
  EXPECT_EQ(client_request_id(http::HeaderList(two)), "");
}

TEST(RequestId, MadeOnesAreUniqueHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_request_id();
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second) << id;
  }
}

// The writer is stuck on a full pipe: append() never waits, it drops and counts.
TEST(AccessLog, FullQueueDropsInsteadOfBlocking) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  auto log = AccessLog::open({.path = "pipe", .max_queued_bytes = 4096, .fd = fds[1]});
  ASSERT_TRUE(log);
  const std::string line(100, 'x');
  int appended = 0;
  while ((*log)->dropped() == 0 && appended < 100'000) {  // the pipe holds 64 KiB at most
    (*log)->append(line + "\n");
    ++appended;
  }
  EXPECT_GT((*log)->dropped(), 0u);
  // Drain the pipe so the writer can finish.
  std::thread reader([&] {
    char buf[65536];
    for (;;) {
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n == 0) return;
      if (n < 0) usleep(1000);
    }
  });
  (*log)->stop();
  close(fds[1]);
  reader.join();
  close(fds[0]);
}

// Lines gather into one write: nothing is written until the batch is full (here 100 bytes; its
// age limit an hour), then all of it at once. flush() and stop() do not wait for a batch to fill.
TEST(AccessLog, LinesGatherIntoOneWriteUntilTheBatchIsFull) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  auto log = AccessLog::open(
      {.path = "pipe", .fd = fds[1], .gather = std::chrono::hours(1), .gather_bytes = 100});
  ASSERT_TRUE(log);
  auto read_within = [&](int ms) {
    pollfd p{.fd = fds[0], .events = POLLIN, .revents = 0};
    if (poll(&p, 1, ms) != 1) return std::string();
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    return n > 0 ? std::string(buf, n) : std::string();
  };
  const std::string line(39, 'x');
  (*log)->append(line + "\n");
  (*log)->append(line + "\n");
  EXPECT_EQ(read_within(200), "");  // 80 bytes: the batch is still gathering
  (*log)->append(line + "\n");      // 120 bytes: full
  EXPECT_EQ(read_within(10'000), line + "\n" + line + "\n" + line + "\n");
  (*log)->append("short\n");
  (*log)->flush();  // returns without the hour
  EXPECT_EQ(read_within(10'000), "short\n");
  (*log)->append("last\n");
  (*log)->stop();  // writes what is queued, then returns
  EXPECT_EQ(read_within(10'000), "last\n");
  close(fds[1]);
  close(fds[0]);
}

TEST(AccessLog, ReopenWritesToTheFileAtThePathNow) {
  char dir[] = "/tmp/access_log_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/access.log";
  auto log = AccessLog::open({.path = path});
  ASSERT_TRUE(log);
  (*log)->append("one\n");
  (*log)->flush();
  ASSERT_EQ(rename(path.c_str(), (path + ".1").c_str()), 0);
  (*log)->append("two\n");
  (*log)->flush();
  (*log)->reopen();
  (*log)->append("three\n");
  (*log)->flush();
  (*log)->stop();
  auto read = [](const std::string& p) {
    std::string out;
    int fd = open(p.c_str(), O_RDONLY);
    char buf[256];
    for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
    if (fd >= 0) close(fd);
    return out;
  };
  EXPECT_EQ(read(path + ".1"), "one\ntwo\n");
  EXPECT_EQ(read(path), "three\n");
  unlink(path.c_str());
  unlink((path + ".1").c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace spindle::lb
