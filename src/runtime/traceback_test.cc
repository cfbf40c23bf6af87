#include "runtime/traceback.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <string>

#include "runtime/blocking.h"
#include "runtime/channel.h"
#include "runtime/goroutine.h"
#include "runtime/runtime.h"

// Not in spindle::runtime: dumps hide the runtime's own frames at the top of a stack.
namespace spindle::runtime_test {
namespace {

using namespace spindle::runtime;  // NOLINT(google-build-using-namespace)

// Parks on ch until it is closed. Not inlined, so it has a frame of its own in every build.
[[gnu::noinline]] void park_in_known_function(Chan<int> ch, std::atomic<uint64_t>* id) {
  id->store(goroutine_id());
  while (ch.recv()) {
  }
  asm volatile("" ::: "memory");  // no tail call: the frame stays on the stack
}

// The snapshot's record of goroutine `id` once it shows `state` (the caller yields meanwhile).
GoroutineRecord wait_for_state(const std::atomic<uint64_t>& id, const std::string& state) {
  for (;;) {
    if (id.load() != 0) {
      for (GoroutineRecord& r : goroutine_snapshot()) {
        if (r.id == id.load() && r.state == state) return r;
      }
    }
    yield();
  }
}

// Recurses `depth` frames, then parks like park_in_known_function.
[[gnu::noinline]] void park_deep(int depth, Chan<int> ch, std::atomic<uint64_t>* id) {
  if (depth > 0) {
    park_deep(depth - 1, ch, id);
  } else {
    park_in_known_function(ch, id);
  }
  asm volatile("" ::: "memory");  // no tail call: each level keeps its frame
}

// A stack deeper than kMaxFrames is cut there and says so; a shallow one is whole.
TEST(Traceback, DeepStackIsCutAtMaxFramesAndMarkedTruncated) {
  Runtime rt(Options{.procs = 2});
  rt.run([] {
    Chan<int> ch = make_chan<int>();
    std::atomic<uint64_t> deep_id{0}, shallow_id{0};
    Chan<int> done = make_chan<int>();
    go([ch, &deep_id, done]() mutable {
      park_deep(static_cast<int>(kMaxFrames) + 50, ch, &deep_id);
      done.close();
    });
    Chan<int> done2 = make_chan<int>();
    go([ch, &shallow_id, done2]() mutable {
      park_deep(3, ch, &shallow_id);
      done2.close();
    });
    const GoroutineRecord deep = wait_for_state(deep_id, "chan receive");
    const GoroutineRecord shallow = wait_for_state(shallow_id, "chan receive");
    EXPECT_EQ(deep.stack.size(), kMaxFrames);
    EXPECT_TRUE(deep.truncated);
    EXPECT_GT(shallow.stack.size(), 4u);
    EXPECT_LT(shallow.stack.size(), 30u);
    EXPECT_FALSE(shallow.truncated);
    ch.close();
    done.recv();
    done2.recv();
  });
}

TEST(Traceback, ParkedGoroutineShowsItsReasonFunctionAndCreator) {
  Runtime rt(Options{.procs = 2});
  rt.run([] {
    Chan<int> ch = make_chan<int>();
    std::atomic<uint64_t> id{0};
    Chan<int> done = make_chan<int>();
    const int go_line = __LINE__ + 1;
    go([ch, &id, done]() mutable { park_in_known_function(ch, &id), done.close(); });
    const GoroutineRecord parked = wait_for_state(id, "chan receive");
    EXPECT_FALSE(parked.stack.empty());
    EXPECT_EQ(parked.no_stack, nullptr);
    EXPECT_EQ(parked.created_in, goroutine_id());
    EXPECT_NE(parked.waiting_since_ns, 0);

    const std::vector<GoroutineRecord> all = goroutine_snapshot();
    ASSERT_FALSE(all.empty());
    EXPECT_TRUE(all[0].current);
    EXPECT_EQ(all[0].id, goroutine_id());
    const std::string dump = blocking([&] { return format_goroutines(all); });

    const std::string header = "goroutine " + std::to_string(id.load()) + " [chan receive]:\n";
    const size_t at = dump.find(header);
    ASSERT_NE(at, std::string::npos) << dump;
    const size_t end = dump.find("\n\n", at);
    const std::string block = dump.substr(at, end == std::string::npos ? end : end - at);
    // The first frame shown is the runtime call the goroutine made (Chan<int>::recv or what it
    // inlined into), then the function that made it.
    EXPECT_NE(block.find("spindle::runtime::"), std::string::npos) << block;
    EXPECT_NE(block.find("park_in_known_function(...)\n\t"), std::string::npos) << block;
    EXPECT_NE(block.find("src/runtime/traceback_test.cc:"), std::string::npos) << block;
    EXPECT_EQ(block.find("goroutine_entry"), std::string::npos) << block;
    // Created by the lambda that called go(), at that line (g++ and clang name lambdas
    // differently).
    const std::string creator =
        "created by spindle::runtime_test::(anonymous namespace)::Traceback_"
        "ParkedGoroutineShowsItsReasonFunctionAndCreator_Test::TestBody()::";
    const size_t created = block.find(creator);
    ASSERT_NE(created, std::string::npos) << block;
    const std::string where =
        " in goroutine " + std::to_string(goroutine_id()) +
        "\n\t[^\n]*src/runtime/traceback_test\\.cc:" + std::to_string(go_line) +
        "( \\+0x[0-9a-f]+)?\n";  // no offset when go() was inlined into its caller
    EXPECT_TRUE(std::regex_search(block.substr(created), std::regex(where))) << block;
    EXPECT_TRUE(dump.starts_with("goroutine " + std::to_string(goroutine_id()) + " [running]:\n"))
        << dump;
    ch.close();
    // Until it has ended: a goroutine still queued when run() returns never runs, and what it
    // holds (its copy of ch) is never freed (LeakSanitizer reported it).
    (void)done.recv();
  });
}

TEST(Traceback, HeaderShowsMinutesOnlyFromOneOnAsGoDoes) {
  const int64_t now = 1000 * int64_t{60'000'000'000};
  GoroutineRecord g;
  g.id = 7;
  g.state = "chan receive";
  EXPECT_EQ(goroutine_header(g, now), "goroutine 7 [chan receive]:");
  g.waiting_since_ns = now - 59'999'999'999;
  EXPECT_EQ(goroutine_header(g, now), "goroutine 7 [chan receive]:");
  g.waiting_since_ns = now - 60'000'000'000;
  EXPECT_EQ(goroutine_header(g, now), "goroutine 7 [chan receive, 1 minutes]:");
  g.waiting_since_ns = now - 210'000'000'000;
  g.locked_to_thread = true;
  EXPECT_EQ(goroutine_header(g, now), "goroutine 7 [chan receive, 3 minutes, locked to thread]:");
}

TEST(Traceback, RunningAndUnstartedGoroutinesSayWhyTheyHaveNoStack) {
  Runtime rt(Options{.procs = 1});
  rt.run([] {
    std::atomic<bool> ran{false};
    go([&] { ran = true; });  // queued behind us on our only P: not started
    bool seen = false;
    for (const GoroutineRecord& r : goroutine_snapshot()) {
      if (!r.current && r.state == "runnable") {
        seen = true;
        EXPECT_STREQ(r.no_stack, "goroutine not started yet; no stack");
      }
    }
    EXPECT_TRUE(seen);
    while (!ran) yield();
  });
}

TEST(TracebackDeathTest, SigquitDumpsEveryGoroutineAndExitsTwo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Runtime rt(Options{.procs = 2});
        rt.run([] {
          Chan<int> ch = make_chan<int>();
          std::atomic<uint64_t> id{0};
          go([ch, &id] { park_in_known_function(ch, &id); });
          wait_for_state(id, "chan receive");
          kill(getpid(), SIGQUIT);
          blocking([] {
            for (;;) pause();  // the dump ends the process
          });
        });
      },
      ::testing::ExitedWithCode(2),
      "SIGQUIT: quit\nPC=0x[0-9a-f]+ m=-?[0-9]+ sigcode=[0-9-]+\n\n"
      "(.|\n)*goroutine [0-9]+ \\[chan receive\\]:\n(.|\n)*park_in_known_function\\(\\.\\.\\.\\)");
}

void own_sigquit_handler(int) {}

// The action for SIGQUIT while a Runtime with `options` exists, SIGQUIT being `before` until then.
void (*sigquit_handler_during(Options options, void (*before)(int)))(int) {
  struct sigaction sa {
  }, old{}, during{};
  sa.sa_handler = before;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGQUIT, &sa, &old);
  {
    Runtime rt(options);
    sigaction(SIGQUIT, nullptr, &during);
  }
  sigaction(SIGQUIT, &old, nullptr);
  return (during.sa_flags & SA_SIGINFO) != 0 ? nullptr : during.sa_handler;
}

TEST(Traceback, SigquitDumpIsInstalledUnlessTheProgramHandlesSigquit) {
  // Installed over the default and over an inherited "ignore" (as Go does).
  EXPECT_EQ(sigquit_handler_during(Options{.procs = 1}, SIG_DFL), nullptr);
  EXPECT_EQ(sigquit_handler_during(Options{.procs = 1}, SIG_IGN), nullptr);
  // Not over the program's own handler, nor when the program opts out.
  EXPECT_EQ(sigquit_handler_during(Options{.procs = 1}, own_sigquit_handler), own_sigquit_handler);
  EXPECT_EQ(sigquit_handler_during(Options{.procs = 1, .dump_on_sigquit = false}, SIG_DFL),
            SIG_DFL);
}

}  // namespace
}  // namespace spindle::runtime_test
