#include "base/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace spindle::base::log {
namespace {

// A pipe the test reads what a Logger writes from.
struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    close(r);
    if (w >= 0) close(w);
  }
  void close_write() {
    close(w);
    w = -1;
  }
  // What the logger wrote, once it is done.
  std::string written() {
    close_write();
    return read_to_end();
  }
  // Everything written until the write end closes (close_write(), on this or another thread).
  std::string read_to_end() {
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = read(r, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return lines;
}

const char* const kTime = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)";

TEST(LogTest, TextLinesCarryTimeLevelAndProgram) {
  Pipe p;
  {
    Logger l({.program = "spindle-lb", .level = Level::kInfo, .fd = p.w});
    l.log(Level::kInfo, "backend http://127.0.0.1:9001 added");
    l.log(Level::kWarn, "two\nlines");
    l.log(Level::kDebug, "not at info");
    l.log(Level::kError, "disk gone");
  }
  auto lines = lines_of(p.written());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(std::string(kTime) + " INFO spindle-lb: backend http://127.0.0.1:9001 added")))
      << lines[0];
  EXPECT_TRUE(std::regex_match(lines[1],
                               std::regex(std::string(kTime) + R"( WARN spindle-lb: two\\nlines)")))
      << lines[1];
  EXPECT_TRUE(
      std::regex_match(lines[2], std::regex(std::string(kTime) + " ERROR spindle-lb: disk gone")))
      << lines[2];
}

TEST(LogTest, JsonLinesAreObjectsWithEscapedStrings) {
  Pipe p;
  {
    Logger l(
        {.program = "spindle-backend", .level = Level::kDebug, .format = Format::kJson, .fd = p.w});
    l.log(Level::kDebug, "say \"hi\"\\\t\x01 caf\xC3\xA9 \xFF");
  }
  auto lines = lines_of(p.written());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(
          std::string(R"(\{"time":")") + kTime +
          R"(","level":"DEBUG","program":"spindle-backend","msg":"say \\"hi\\"\\\\\\t\\u0001 caf\xC3\xA9 \\ufffd"\})")))
      << lines[0];
}

TEST(LogTest, Rfc3339IsUtcWithMicroseconds) {
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(rfc3339(1'796'380'057'123'456'789), "2026-12-04T10:27:37.123456Z");
  EXPECT_EQ(rfc3339(-1'000), "1969-12-31T23:59:59.999999Z");
}

TEST(LogTest, JsonQuoteReplacesWhatIsNotUtf8) {
  EXPECT_EQ(json_quote("a\"b"), R"("a\"b")");
  EXPECT_EQ(json_quote("\xE2\x82\xAC"), "\"\xE2\x82\xAC\"");         // the euro sign, kept
  EXPECT_EQ(json_quote("\xC0\xAF"), R"("\ufffd\ufffd")");            // an overlong '/'
  EXPECT_EQ(json_quote("\xED\xA0\x80"), R"("\ufffd\ufffd\ufffd")");  // a surrogate
  EXPECT_EQ(json_quote("\xE2\x82"), R"("\ufffd\ufffd")");            // cut short
}

TEST(LogTest, ParsesLevelsAndFormats) {
  EXPECT_EQ(parse_level("debug"), Level::kDebug);
  EXPECT_EQ(parse_level("INFO"), Level::kInfo);
  EXPECT_EQ(parse_level("warning"), Level::kWarn);
  EXPECT_EQ(parse_level("error"), Level::kError);
  EXPECT_FALSE(parse_level("verbose"));
  EXPECT_EQ(parse_format("json"), Format::kJson);
  EXPECT_EQ(parse_format("text"), Format::kText);
  EXPECT_FALSE(parse_format("xml"));
}

TEST(LogTest, LongMessagesAreCut) {
  Pipe p;
  {
    Logger l({.program = "", .fd = p.w, .max_line = 10});
    l.log(Level::kInfo, std::string(25, 'x'));
  }
  auto lines = lines_of(p.written());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(" INFO xxxxxxxxxx [15 more bytes cut]"), std::string::npos) << lines[0];
}

// Nobody reads the output: log() still returns at once, every time; what does not fit is
// dropped, counted, and reported in the log once the output drains.
TEST(LogTest, AStuckOutputDropsLinesInsteadOfBlocking) {
  Pipe p;
  const std::string message(200, 'm');
  constexpr int kLines = 5000;  // 1 MB: more than the pipe (64 KiB) and the queue (16 lines)
  Logger l({.program = "p", .fd = p.w, .max_queued = 16});
  for (int i = 0; i < kLines; ++i) l.log(Level::kInfo, message);
  const std::uint64_t dropped = l.dropped();
  EXPECT_GT(dropped, 0u);
  std::string out;
  std::thread reader([&] { out = p.read_to_end(); });
  l.stop();  // writes out the queue and the report
  p.close_write();
  reader.join();
  auto lines = lines_of(out);
  const std::string report =
      std::to_string(dropped) + " log lines dropped: the log output is slower than the events";
  std::size_t reports = 0, messages = 0;
  std::uint64_t reported = 0;
  for (const std::string& line : lines) {
    if (line.find(" WARN p: ") != std::string::npos &&
        line.find("log lines dropped") != std::string::npos) {
      ++reports;
      reported += std::stoull(line.substr(line.find(" WARN p: ") + 9));
    } else if (line.ends_with(message)) {
      ++messages;
    }
  }
  EXPECT_GE(reports, 1u);
  EXPECT_EQ(reported, dropped);
  EXPECT_EQ(messages + dropped, static_cast<std::uint64_t>(kLines));
}

TEST(LogTest, FlushWaitsForQueuedLines) {
  Pipe p;
  Logger l({.program = "", .fd = p.w});
  for (int i = 0; i < 100; ++i) l.log(Level::kInfo, "line " + std::to_string(i));
  l.flush();
  // Everything is in the pipe now: a non-blocking read finds all 100 lines.
  fcntl(p.r, F_SETFL, O_NONBLOCK);
  std::string out;
  char buf[65536];
  for (ssize_t n; (n = read(p.r, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(lines_of(out).size(), 100u);
  EXPECT_NE(out.find("line 99\n"), std::string::npos);
}

TEST(LogTest, ManyThreadsLogWholeLines) {
  Pipe p;
  std::string out;
  {
    Logger l({.program = "", .fd = p.w, .max_queued = 1 << 20});
    std::thread reader([&] { out = p.read_to_end(); });
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&l, t] {
        for (int i = 0; i < 500; ++i) l.log(Level::kInfo, fmt::format("thread {} line {}", t, i));
      });
    }
    for (auto& t : threads) t.join();
    l.stop();
    p.close_write();
    reader.join();
  }
  auto lines = lines_of(out);
  EXPECT_EQ(lines.size(), 2000u);
  // Whole lines only: each is a time, the level and one message, none cut or mixed.
  const std::regex whole(std::string(kTime) + R"( INFO thread \d line \d+)");
  std::set<std::string> messages;
  for (const std::string& line : lines) {
    ASSERT_GT(line.size(), 28u);
    EXPECT_EQ(line.find(" INFO thread "), 27u) << line;
    messages.insert(line.substr(32));
  }
  EXPECT_TRUE(std::regex_match(lines.front(), whole)) << lines.front();
  EXPECT_TRUE(std::regex_match(lines.back(), whole)) << lines.back();
  EXPECT_EQ(messages.size(), 2000u);
}

}  // namespace
}  // namespace spindle::base::log
