// The scheduler trace: SPINDLE_DEBUG parsing, Go's SCHED line format, and numbers that add up
// in a scenario where the run queues are known.
#include "runtime/schedtrace.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/scheduler_internal.h"
#include "runtime/sync/wait_group.h"
#include "runtime/time.h"

namespace spindle::runtime {
namespace {

using namespace std::chrono_literals;

// Go's line: SCHED 40110ms: gomaxprocs=4 idleprocs=0 threads=58 spinningthreads=1
// needspinning=1 idlethreads=53 runqueue=2720 [1 106 125 129]
const std::regex kLine(
    R"(SCHED (\d+)ms: gomaxprocs=(\d+) idleprocs=(\d+) threads=(\d+) spinningthreads=(\d+) )"
    R"(needspinning=(\d+) idlethreads=(\d+) runqueue=(\d+) \[(\d+(?: \d+)*)\])");

struct Line {
  int64_t gomaxprocs, idleprocs, threads, spinning, idlethreads, runqueue;
  std::vector<int64_t> local;
};

Line parse(const std::string& text) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(text, m, kLine)) << text;
  if (m.empty()) return {};
  Line l{std::stoll(m[2]),
         std::stoll(m[3]),
         std::stoll(m[4]),
         std::stoll(m[5]),
         std::stoll(m[7]),
         std::stoll(m[8]),
         {}};
  std::istringstream in(m[9].str());
  for (int64_t n; in >> n;) l.local.push_back(n);
  return l;
}

TEST(SchedTraceTest, ParsesLikeGodebug) {
  std::string warnings;
  DebugSettings d = parse_debug_settings("schedtrace=250,scheddetail=1", &warnings);
  EXPECT_EQ(d.schedtrace_ms, 250);
  EXPECT_TRUE(d.scheddetail);
  EXPECT_EQ(warnings, "");
  d = parse_debug_settings("frobnicate=3,schedtrace=x,,scheddetail", &warnings);
  EXPECT_EQ(d.schedtrace_ms, 0);
  EXPECT_FALSE(d.scheddetail);
  EXPECT_NE(warnings.find("\"frobnicate=3\" (unknown key)"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("\"schedtrace=x\""), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("\"scheddetail\" (want key=value)"), std::string::npos) << warnings;
}

// One P: the main goroutine spawns 300 goroutines without yielding. The local ring holds 256,
// so some overflow to the global queue; all 300 wait, in the bracket or in runqueue.
TEST(SchedTraceTest, QueuedGoroutinesAddUp) {
  Runtime rt(Options{.procs = 1});
  std::string text;
  rt.run([&] {
    WaitGroup wg;
    wg.add(300);
    for (int i = 0; i < 300; ++i) go([&] { wg.done(); });
    text = Scheduler::get()->sched_trace(now_ns(), false);
    wg.wait();
  });
  Line l = parse(text);
  EXPECT_EQ(l.gomaxprocs, 1);
  EXPECT_EQ(l.idleprocs, 0);  // the main goroutine holds the only P
  ASSERT_EQ(l.local.size(), 1u);
  EXPECT_GT(l.runqueue, 0);
  EXPECT_EQ(l.runqueue + l.local[0], 300) << text;
  EXPECT_GE(l.threads, 2);  // an M and sysmon
}

// Four Ps, numbers consistent with each other whatever the timing, and the detailed form.
TEST(SchedTraceTest, ConsistentAtFourProcs) {
  Runtime rt(Options{.procs = 4});
  std::string text, detail;
  rt.run([&] {
    WaitGroup wg;
    wg.add(50);
    for (int i = 0; i < 50; ++i) go([&] { wg.done(); });
    text = Scheduler::get()->sched_trace(now_ns(), false);
    detail = Scheduler::get()->sched_trace(now_ns(), true);
    wg.wait();
  });
  Line l = parse(text);
  EXPECT_EQ(l.gomaxprocs, 4);
  EXPECT_LE(l.idleprocs, 3);  // the main goroutine's P is busy
  EXPECT_EQ(l.local.size(), 4u);
  EXPECT_LE(l.spinning, 4);
  EXPECT_LE(l.idlethreads, l.threads);
  int64_t queued = l.runqueue;
  for (int64_t n : l.local) queued += n;
  EXPECT_LE(queued, 50);
  EXPECT_TRUE(std::regex_search(
      detail, std::regex(R"(SCHED \d+ms: gomaxprocs=4 .* runqueue=\d+ gcwaiting=false )"
                         R"(nmidlelocked=\d+ stopwait=0 sysmonwait=(true|false)\n)")))
      << detail;
  for (int p = 0; p < 4; ++p) {
    EXPECT_TRUE(std::regex_search(
        detail, std::regex("\n  P" + std::to_string(p) +
                           R"(: status=[012] schedtick=\d+ syscalltick=\d+ m=(\d+|nil) )"
                           R"(runqsize=\d+ timerslen=\d+\n)")))
        << detail;
  }
  EXPECT_TRUE(std::regex_search(detail, std::regex(R"(\n  M0: p=(\d+|nil)\n)"))) << detail;
}

// SPINDLE_DEBUG=schedtrace=MS: sysmon prints the line to stderr every MS ms, also while the
// runtime is idle (sysmon does not sleep deeply then).
TEST(SchedTraceTest, SysmonPrintsEveryInterval) {
  setenv("SPINDLE_DEBUG", "schedtrace=10,nosuchkey=1", 1);
  testing::internal::CaptureStderr();
  {
    Runtime rt(Options{.procs = 2});
    rt.run([] { sleep_for(200ms); });
  }
  std::string err = testing::internal::GetCapturedStderr();
  unsetenv("SPINDLE_DEBUG");
  EXPECT_NE(err.find("ignoring \"nosuchkey=1\" (unknown key)"), std::string::npos) << err;
  auto begin = std::sregex_iterator(err.begin(), err.end(), kLine);
  int lines = static_cast<int>(std::distance(begin, std::sregex_iterator()));
  // ~20 lines in 200 ms; a loaded machine may delay sysmon, so ask for a few.
  EXPECT_GE(lines, 3) << err;
  EXPECT_NE(err.find("gomaxprocs=2"), std::string::npos) << err;
}

}  // namespace
}  // namespace spindle::runtime
