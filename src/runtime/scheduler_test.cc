#include "runtime/scheduler.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

using testing::RuntimeTest;

class SchedulerTest : public RuntimeTest {};

// Joins n goroutines without channels or sync (those build on this): parks on a counter.
struct Latch {
  explicit Latch(int n) : left(n) {}
  void count_down() {
    if (left.fetch_sub(1) == 1) {
      Goroutine* w = waiter.exchange(reinterpret_cast<Goroutine*>(1));
      if (w != nullptr) ready(w);
    }
  }
  void wait() {
    if (left.load() == 0) return;
    park(
        WaitReason::kSemacquire,
        [](Goroutine* g, void* arg) {
          auto* self = static_cast<Latch*>(arg);
          Goroutine* expected = nullptr;
          return self->waiter.compare_exchange_strong(expected, g);  // false: already done
        },
        this);
  }
  std::atomic<int> left;
  std::atomic<Goroutine*> waiter{nullptr};
};

TEST_P(SchedulerTest, RunsMainAndReportsIds) {
  uint64_t id = 0;
  run([&] {
    EXPECT_TRUE(in_goroutine());
    id = goroutine_id();
  });
  EXPECT_GT(id, 0u);
  EXPECT_FALSE(in_goroutine());
}

TEST_P(SchedulerTest, SpawnAndJoinOneMillion) {
#if defined(SPINDLE_TSAN)
  constexpr int kN = 20'000;  // 50 µs a spawn under TSan: a million would take a minute
#elif defined(SPINDLE_ASAN)
  constexpr int kN = 100'000;
#else
  constexpr int kN = 1'000'000;
#endif
  std::atomic<int64_t> sum{0};
  run([&] {
    Latch latch(kN);
    for (int i = 0; i < kN; ++i) {
      go([&sum, &latch, i] {
        sum.fetch_add(i, std::memory_order_relaxed);
        latch.count_down();
      });
    }
    latch.wait();
  });
  EXPECT_EQ(sum.load(), int64_t{kN} * (kN - 1) / 2);
}

TEST_P(SchedulerTest, WorkSpreadsOverAllProcessors) {
  if (procs() == 1) GTEST_SKIP() << "one processor";
  // Each goroutine spins ~2 ms of CPU while recording its thread: with P processors and enough
  // goroutines, at least P distinct threads must have run them.
  std::mutex mu;
  std::set<std::thread::id> threads;
  run([&] {
    Latch latch(64);
    for (int i = 0; i < 64; ++i) {
      go([&] {
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
        while (std::chrono::steady_clock::now() < until) {
        }
        {
          std::lock_guard<std::mutex> l(mu);
          threads.insert(std::this_thread::get_id());
        }
        latch.count_down();
      });
    }
    latch.wait();
  });
  EXPECT_GE(static_cast<int>(threads.size()), std::min(procs(), 2));
}

TEST_P(SchedulerTest, YieldLetsOthersRun) {
  std::atomic<int> turns{0};
  run([&] {
    Latch latch(4);
    for (int i = 0; i < 4; ++i) {
      go([&] {
        for (int k = 0; k < 1000; ++k) {
          turns.fetch_add(1);
          yield();
        }
        latch.count_down();
      });
    }
    latch.wait();
  });
  EXPECT_EQ(turns.load(), 4000);
}

// Parks and readies itself into runnext at once: the local queue is never empty, so without
// the 61-tick rule nothing else would ever be looked at.
void requeue_self_via_runnext() {
  park(
      WaitReason::kPreempted,
      [](Goroutine* g, void*) {
        ready(g);
        return true;
      },
      nullptr);
}

// The 61-tick rule: with every P kept busy by goroutines that go back to runnext, a goroutine
// on the global queue (yield puts it there) still gets to run.
TEST_P(SchedulerTest, GlobalQueueIsServedWhileLocalQueueIsBusy) {
  std::atomic<bool> stop{false};
  std::atomic<int> global_runs{0};
  run([&] {
    Latch done(procs() + 1);
    for (int i = 0; i < procs(); ++i) {
      go([&] {
        while (!stop.load()) requeue_self_via_runnext();
        done.count_down();
      });
    }
    go([&] {
      for (int k = 0; k < 20; ++k) {
        yield();  // to the global queue, behind the busy local queues
        global_runs.fetch_add(1);
      }
      stop.store(true);
      done.count_down();
    });
    done.wait();
  });
  EXPECT_EQ(global_runs.load(), 20);
}

TEST_P(SchedulerTest, LockOsThreadKeepsTheThread) {
  run([&] {
    Latch latch(1);
    go([&] {
      lock_os_thread();
      auto tid = std::this_thread::get_id();
      for (int i = 0; i < 50; ++i) {
        go([] {});
        yield();
        EXPECT_EQ(std::this_thread::get_id(), tid);
      }
      unlock_os_thread();
      latch.count_down();
    });
    latch.wait();
  });
}

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

TEST(SchedulerIdle, IdleRuntimeUsesNoCpu) {
  Runtime rt(Options{.procs = 4});
  rt.run([] {
    for (int i = 0; i < 100; ++i) go([] {});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  double before = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double used = process_cpu_seconds() - before;
  EXPECT_LT(used, 0.02) << "an idle runtime burned " << used << " s of CPU in 1 s";
  Stats s = rt.stats();
  EXPECT_EQ(s.idle_procs, 4);
  EXPECT_EQ(s.spinning_threads, 0);
  EXPECT_EQ(s.idle_threads, s.threads);
}

TEST(SchedulerDeathTest, DeadlockIsReportedLikeGo) {
  EXPECT_DEATH(
      {
        Runtime rt(Options{.procs = 2});
        rt.run([] { park(WaitReason::kChanReceive, nullptr, nullptr); });
      },
      "fatal error: all goroutines are asleep - deadlock!");
}

TEST(SchedulerDeathTest, ExceptionEscapingAGoroutineNamesIt) {
  EXPECT_DEATH(
      {
        Runtime rt(Options{.procs = 1});
        rt.run([] { throw std::runtime_error("boom"); });
      },
      "panic: boom(.|\n)*goroutine 1 \\[running\\]");
}

TEST(SchedulerDeathTest, GoFromOutsideAGoroutine) {
  EXPECT_DEATH(
      {
        Runtime rt(Options{.procs = 1});
        go([] {});
      },
      "go\\(\\) called from outside a goroutine");
}

// Recurses until `limit` (never reached: the stack overflows first).
[[gnu::noinline]] int recurse(int depth, int limit) {
  volatile char pad[512];
  pad[0] = static_cast<char>(depth);
  if (depth == limit) return pad[0];
  return recurse(depth + 1, limit) + pad[0];
}

TEST(SchedulerDeathTest, StackOverflowIsReported) {
#if defined(SPINDLE_ASAN)
  GTEST_SKIP() << "ASan reports the overflow itself";
#endif
  EXPECT_DEATH(
      {
        Runtime rt(Options{.procs = 1, .stack_size = 64 * 1024});
        rt.run([] { recurse(0, 1 << 30); });
      },
      "goroutine 1: stack overflow");
}

TEST(DefaultProcs, HonoursEnvironment) {
  setenv("SPINDLE_MAXPROCS", "3", 1);
  EXPECT_EQ(default_procs(), 3);
  unsetenv("SPINDLE_MAXPROCS");
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_LE(default_procs(), CPU_COUNT(&set));
  EXPECT_GE(default_procs(), 1);
}

SPINDLE_INSTANTIATE_PROCS(SchedulerTest);

}  // namespace
}  // namespace spindle::runtime
