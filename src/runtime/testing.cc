#include "runtime/testing.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "runtime/runtime.h"
#include "runtime/stack.h"

namespace spindle::runtime::testing {

void RuntimeTest::run(base::Task body) {
  Runtime rt(Options{.procs = procs()});
  rt.run(std::move(body));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (rt.live_goroutines() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(rt.live_goroutines(), 0) << "goroutines still alive 5 s after the test body returned";
}

int parkable_goroutines() {
  // With guard markers a parked goroutine's stack costs no memory mapping. TSan's fibers map
  // memory of their own (about two mappings per goroutine), so under TSan the limit still counts.
#if !defined(SPINDLE_TSAN)
  if (stack_guards() == StackGuards::kMarkers) return 1'000'000;
#endif
  std::ifstream in("/proc/sys/vm/max_map_count");
  long limit = 65530;
  in >> limit;
  int n = static_cast<int>((limit - 8192) / 2);
  if (n < 100'000) {
    std::fprintf(stderr, "note: vm.max_map_count=%ld allows only %d parked goroutines\n", limit, n);
  }
  return n;
}

uint32_t thread_rand() {
  thread_local uint64_t s = reinterpret_cast<uintptr_t>(&s) * 0x9E3779B97F4A7C15ull;
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return static_cast<uint32_t>(s >> 32);
}

void spin_ns(int64_t ns) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < until) {
  }
}

}  // namespace spindle::runtime::testing
