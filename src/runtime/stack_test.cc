// Goroutine stacks: overflow is always the fatal report, whatever the frame size; parked
// goroutines cost no memory mappings; running out of memory is a clear error.
#include "runtime/stack.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "base/check.h"
#include "runtime/channel.h"
#include "runtime/goroutine.h"
#include "runtime/runtime.h"
#include "runtime/scheduler.h"
#include "runtime/sync/wait_group.h"

namespace spindle::runtime {
namespace {

// A frame of kBytes whose first write is its lowest byte: without stack probing that write is
// the first touch, kBytes below the caller, past any guard smaller than that.
template <size_t kBytes>
[[gnu::noinline]] int big_frame(int i) {
  volatile char buf[kBytes];
  asm volatile("" : : "r"(buf) : "memory");  // the whole array exists: its address escapes
  buf[i] = 1;
  return buf[i];
}

volatile int g_lowest = 0;  // read at run time, so the compiler cannot shrink the frame

// Recurses until fewer than 2 KiB of the stack above `lo` are left, then calls big_frame.
template <size_t kBytes>
[[gnu::noinline]] int big_frame_at_stack_end(const char* lo, int i) {
  volatile char pad[256];
  pad[0] = 1;
  if (reinterpret_cast<const volatile char*>(&pad) - lo > 2048) {
    return big_frame_at_stack_end<kBytes>(lo, i) + pad[0];
  }
  return big_frame<kBytes>(i) + pad[0];
}

// Parks a few goroutines first, so that stacks in use lie right below the one that overflows
// (stacks are carved back to back): a frame that skipped the guard would land in theirs.
template <size_t kBytes>
void overflow_with_neighbours() {
  Runtime rt(Options{.procs = 1});
  rt.run([] {
    auto started = make_chan<int>(8);
    auto never = make_chan<int>();
    for (int i = 0; i < 4; ++i) {
      go([started, never]() mutable {
        started.send(1);
        never.recv();
      });
    }
    for (int i = 0; i < 4; ++i) started.recv();
    auto done = make_chan<int>();
    go([done]() mutable {
      big_frame_at_stack_end<kBytes>(current("test")->stack.lo(), g_lowest);
      done.send(1);
    });
    done.recv();
  });
}

#if defined(SPINDLE_ASAN)
constexpr const char* kOverflow = "stack overflow|stack-overflow";  // ASan may report it first
#else
constexpr const char* kOverflow = "fatal error: goroutine [0-9]+: stack overflow";
#endif

TEST(StackDeathTest, FrameOf64KiBAtTheEndOfAStackIsReported) {
  EXPECT_DEATH(overflow_with_neighbours<64 * 1024>(), kOverflow);
}

TEST(StackDeathTest, FrameLargerThanAStackIsReported) {
  EXPECT_DEATH(overflow_with_neighbours<512 * 1024>(), kOverflow);
}

// Without guard markers (kernels before 6.13) guards are PROT_NONE mappings: still reported.
TEST(StackDeathTest, OverflowIsReportedWithGuardMappingsToo) {
  EXPECT_DEATH(
      {
        use_guard_mappings_for_test();
        overflow_with_neighbours<512 * 1024>();
      },
      kOverflow);
}

int memory_mappings() {
  std::ifstream in("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Parks n goroutines, each with a stack of its own, and returns how many memory mappings the
// process gained meanwhile.
int mappings_added_by_parked_goroutines(int n) {
  int added = -1;
  Runtime rt(Options{.procs = 2});
  rt.run([&] {
    auto release = make_chan<int>();
    WaitGroup started, finished;
    started.add(n);
    finished.add(n);
    const int before = memory_mappings();
    for (int i = 0; i < n; ++i) {
      go([&, release]() mutable {
        started.done();
        release.recv();
        finished.done();
      });
    }
    started.wait();
    added = memory_mappings() - before;
    release.close();
    finished.wait();
  });
  return added;
}

// Debian's default vm.max_map_count (65530) allowed ~32k parked goroutines when every stack
// took two mappings. With guard markers the arenas' few mappings are all.
TEST(Stack, ParkedGoroutinesAddNoMemoryMappings) {
  if (stack_guards() == StackGuards::kMappings) GTEST_SKIP() << "kernel without guard markers";
#if defined(SPINDLE_TSAN)
  GTEST_SKIP() << "TSan maps memory of its own for every goroutine's fiber";
#endif
#if defined(SPINDLE_ASAN)
  constexpr int kN = 5'000;
#else
  constexpr int kN = 40'000;  // more than the default limit allowed before
#endif
  EXPECT_LT(mappings_added_by_parked_goroutines(kN), 100);
}

long vm_size_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmSize:", 0) == 0) return std::stol(line.substr(7)) * 1024;
  }
  return -1;
}

// Parks goroutines in batches until stacks no longer fit under an address-space limit set
// 256 MiB above what the process uses: a clear message and exit status 2, not a crash.
[[noreturn]] void park_until_out_of_address_space() {
  Runtime rt(Options{.procs = 1});
  rt.run([] {
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(vm_size_bytes()) + (256 << 20);
    SPINDLE_CHECK(setrlimit(RLIMIT_AS, &limit) == 0, "setrlimit");
    auto never = make_chan<int>();
    for (;;) {
      WaitGroup started;
      started.add(1000);
      for (int i = 0; i < 1000; ++i) {
        go([&started, never]() mutable {
          started.done();
          never.recv();
        });
      }
      started.wait();
    }
  });
  std::abort();
}

TEST(StackDeathTest, RunningOutOfMemoryIsAClearErrorNotACrash) {
#if defined(SPINDLE_ASAN) || defined(SPINDLE_TSAN)
  GTEST_SKIP() << "sanitizers reserve terabytes of shadow memory: no address-space limit fits";
#endif
  EXPECT_EXIT(park_until_out_of_address_space(), ::testing::ExitedWithCode(2),
              "fatal error: out of memory: cannot allocate a goroutine stack of 320 KiB "
              "\\(mmap: Cannot allocate memory\\) after [0-9]+ stacks. The address-space "
              "limit \\(ulimit -v\\)");
}

}  // namespace
}  // namespace spindle::runtime
