// Goroutine dumps while goroutines are parked, readied, started, finished and reused all the
// time: the scan gate (scan_gate.h) must keep every stack it reads still (TSan reports a race
// otherwise), and every walked stack must be the goroutine's real one.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "debug/symbolize.h"
#include "runtime/blocking.h"
#include "runtime/channel.h"
#include "runtime/race_hook.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"
#include "runtime/time.h"
#include "runtime/traceback.h"

namespace spindle::runtime_test {
namespace {

using namespace spindle::runtime;  // NOLINT(google-build-using-namespace)

// One side of a ping-pong pair: the only code in this test that waits on a channel.
[[gnu::noinline]] void pingpong_side(Chan<int> in, Chan<int> out, const std::atomic<bool>* stop,
                                     bool starts) {
  for (int i = 0;; ++i) {
    if (starts) {
      if (stop->load()) {
        out.close();
        break;
      }
      out.send(i);
      if (!in.recv()) break;
    } else {
      std::optional<int> v = in.recv();
      if (!v) break;
      out.send(*v);
    }
  }
  asm volatile("" ::: "memory");
}

// Checks one snapshot and keeps the stacks of goroutines parked on a channel.
void check(const std::vector<GoroutineRecord>& gs, bool from_goroutine,
           std::vector<std::vector<uintptr_t>>& chan_stacks) {
  std::set<uint64_t> ids;
  int current = 0;
  for (const GoroutineRecord& g : gs) {
    EXPECT_NE(g.id, 0u);
    EXPECT_TRUE(ids.insert(g.id).second) << "goroutine " << g.id << " twice";
    current += g.current;
    EXPECT_LE(g.stack.size(), kMaxFrames);
    const bool on_chan = g.state == "chan receive" || g.state == "chan send";
    if (on_chan && !g.stack.empty() && chan_stacks.size() < 400) chan_stacks.push_back(g.stack);
  }
  EXPECT_EQ(current, from_goroutine ? 1 : 0);
}

TEST(TracebackStress, DumpsWhileGoroutinesParkWakeStartAndExit) {
  set_race_hook_for_test([](RacePoint point, const void*) {
    // Widen the window between reading a goroutine's status and reading its stack.
    if (point == RacePoint::kGoroutineScan && testing::thread_rand() % 4 == 0) {
      testing::spin_ns(2000);
    }
  });
  std::atomic<bool> stop{false};
  std::vector<std::vector<uintptr_t>> chan_stacks;
  std::atomic<int> thread_snapshots{0};
  int goroutine_snapshots = 0;
  Runtime rt(Options{.procs = 4});
  rt.run([&] {
    WaitGroup wg;
    for (int pair = 0; pair < 4; ++pair) {
      Chan<int> ab = make_chan<int>();
      Chan<int> ba = make_chan<int>();
      wg.add(2);
      go([ab, ba, &stop, &wg] {
        pingpong_side(ba, ab, &stop, true);
        wg.done();
      });
      go([ab, ba, &stop, &wg] {
        pingpong_side(ab, ba, &stop, false);
        wg.done();
      });
    }
    wg.add(2);
    go([&] {  // short-lived goroutines: exits and reuse of goroutines
      while (!stop.load()) {
        WaitGroup batch;
        batch.add(16);
        for (int i = 0; i < 16; ++i) {
          go([&batch] {
            yield();
            batch.done();
          });
        }
        batch.wait();
      }
      wg.done();
    });
    go([&] {  // timers readying goroutines from scheduler threads
      while (!stop.load()) sleep_for(std::chrono::microseconds(100));
      wg.done();
    });
    std::vector<std::vector<uintptr_t>> thread_stacks;
    std::thread outside([&] {  // a dump from a thread that is not an M
      while (!stop.load()) {
        check(goroutine_snapshot(), false, thread_stacks);
        thread_snapshots.fetch_add(1);
      }
    });
    const auto until = base::Clock::now() + std::chrono::seconds(1);
    while (base::Clock::now() < until) {
      check(goroutine_snapshot(), true, chan_stacks);
      ++goroutine_snapshots;
      yield();
    }
    stop.store(true);
    blocking([&] { outside.join(); });
    wg.wait();
    chan_stacks.insert(chan_stacks.end(), thread_stacks.begin(), thread_stacks.end());
  });
  set_race_hook_for_test(nullptr);
  EXPECT_GT(goroutine_snapshots, 0);
  EXPECT_GT(thread_snapshots.load(), 0);

  // Every stack read from a goroutine parked on a channel runs through pingpong_side.
  ASSERT_FALSE(chan_stacks.empty());
  for (const std::vector<uintptr_t>& stack : chan_stacks) {
    std::vector<uintptr_t> pcs;
    for (uintptr_t pc : stack) pcs.push_back(pc - 1);
    bool found = false;
    for (const std::vector<debug::Frame>& chain : debug::symbolize_inlined(pcs)) {
      for (const debug::Frame& f : chain)
        found |= f.function.find("pingpong_side") != std::string::npos;
    }
    EXPECT_TRUE(found) << "a walked stack does not reach pingpong_side";
    if (!found) break;
  }
}

}  // namespace
}  // namespace spindle::runtime_test
