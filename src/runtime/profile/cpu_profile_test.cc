// The CPU profiler: samples land in the function burning CPU, with the goroutine's id and
// labels; one profile at a time; the SIGPROF handler survives busy switching, threads that
// exit while a profile runs, and (in the sanitizer presets) stays clean under ASan and TSan.
#include "runtime/profile/cpu_profile.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/time.h"

namespace spindle::runtime {
namespace {

using namespace std::chrono_literals;

std::atomic<bool> g_stop{false};
std::atomic<uint64_t> g_sink{0};

__attribute__((noinline)) uint64_t burn(uint64_t x) {
  for (int i = 0; i < 200'000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

__attribute__((noinline)) void spin_until_stopped() {
  uint64_t x = 1;
  while (!g_stop.load(std::memory_order_relaxed)) {
    x = burn(x);
    yield();
  }
  g_sink += x;
}

// True when pc is a return address inside fn (test functions here are far below 2 KiB).
bool returns_into(uintptr_t pc, void (*fn)()) {
  const auto start = reinterpret_cast<uintptr_t>(fn);
  return pc > start && pc - start < 2048;
}

// Collects until the profile holds `want` samples; the wait is bounded only to end a broken
// run (no timing is asserted).
void collect_until(CpuProfiler& p, int64_t want) {
  const auto give_up = std::chrono::steady_clock::now() + 120s;
  while (p.samples() < want && std::chrono::steady_clock::now() < give_up) {
    sleep_for(50ms);
    p.collect();
  }
}

TEST(CpuProfile, SamplesCarryTheStackTheGoroutineAndItsLabels) {
  Runtime rt(Options{.procs = 2});
  rt.run([] {
    g_stop = false;
    std::unique_ptr<CpuProfiler> prof = CpuProfiler::start();
    ASSERT_NE(prof, nullptr);
    EXPECT_EQ(CpuProfiler::start(), nullptr);  // one at a time
    std::atomic<uint64_t> labelled_id{0};
    WaitGroup wg;
    wg.add(2);
    go([&] {
      with_labels(LabelSet{{"worker", "a"}}, [&] {
        labelled_id = goroutine_id();
        spin_until_stopped();
      });
      wg.done();
    });
    go([&] {
      spin_until_stopped();
      wg.done();
    });
    collect_until(*prof, 60);
    g_stop = true;
    wg.wait();
    std::vector<CpuSample> samples = prof->stop();
    EXPECT_GE(prof->samples(), 60);

    int64_t in_spin = 0, labelled = 0;
    for (const CpuSample& s : samples) {
      ASSERT_FALSE(s.pcs.empty());
      bool spinning = false;
      for (uintptr_t pc : s.pcs) spinning = spinning || returns_into(pc, &spin_until_stopped);
      if (spinning) {
        in_spin += s.count;
        EXPECT_NE(s.goroutine, 0u);  // spin_until_stopped runs only on goroutines
      }
      if (s.labels.get("worker") == "a") {
        labelled += s.count;
        EXPECT_EQ(s.goroutine, labelled_id.load());
      } else {
        EXPECT_TRUE(s.labels.empty());
      }
    }
    EXPECT_GT(in_spin, 0);
    EXPECT_GT(labelled, 0);
    // A new profile may start once the last one stopped.
    EXPECT_NE(CpuProfiler::start(), nullptr);
  });
}

// Many switches, spawns and parks while SIGPROF arrives at 1000 Hz: the handler interrupts
// context switches and scheduler code; under ASan and TSan it must stay clean.
TEST(CpuProfile, SurvivesBusySwitchingAndThreadsThatExit) {
  std::unique_ptr<CpuProfiler> prof = CpuProfiler::start(1000);
  ASSERT_NE(prof, nullptr);
  for (int round = 0; round < 2; ++round) {  // each Runtime's threads exit while profiling
    Runtime rt(Options{.procs = 2});
    rt.run([&] {
      Chan<int> ping = make_chan<int>(), pong = make_chan<int>();
      go([&] {
        while (std::optional<int> v = ping.recv()) pong.send(*v + 1);
      });
      const auto give_up = std::chrono::steady_clock::now() + 120s;
      for (int i = 0;
           prof->samples() < 50 * (round + 1) && std::chrono::steady_clock::now() < give_up; ++i) {
        ping.send(i);
        EXPECT_EQ(pong.recv(), i + 1);
        WaitGroup wg;
        wg.add(1);
        go([&] {
          g_sink += burn(static_cast<uint64_t>(i));
          wg.done();
        });
        wg.wait();
        if (i % 64 == 0) prof->collect();
      }
      ping.close();
    });
  }
  std::vector<CpuSample> samples = prof->stop();
  EXPECT_GE(prof->samples(), 100);
  EXPECT_FALSE(samples.empty());
}

}  // namespace
}  // namespace spindle::runtime
