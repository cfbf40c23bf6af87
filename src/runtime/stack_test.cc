// Goroutine stacks: overflow is always the fatal report, whatever the frame size.
#include "runtime/stack.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "runtime/channel.h"
#include "runtime/goroutine.h"
#include "runtime/runtime.h"
#include "runtime/scheduler.h"

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

}  // namespace
}  // namespace spindle::runtime
