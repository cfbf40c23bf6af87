// spindle-sleepers: the timer benchmark, twin of bench/peers/go/sleepers. N goroutines each
// sleep a random 0..max duration (fixed seed); lateness is how long after its deadline each one
// woke. Prints "RESULT wall_ms" (spawn to last wake-up) and "RESULT lateness_p99_us".
//
// Usage: spindle-sleepers [-n 100000] [-max-ms 100]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/time.h"

int main(int argc, char** argv) {
  long n = 100'000, max_ms = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "-n") == 0) n = std::strtol(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "-max-ms") == 0) max_ms = std::strtol(argv[i + 1], nullptr, 10);
  }
  if (n <= 0 || max_ms <= 0) {
    std::fputs("usage: spindle-sleepers [-n 100000] [-max-ms 100]\n", stderr);
    return 2;
  }
  using spindle::base::Clock;
  std::mt19937_64 rng(1);
  std::vector<std::chrono::nanoseconds> sleeps(static_cast<size_t>(n));
  for (auto& s : sleeps) s = std::chrono::nanoseconds(rng() % (max_ms * 1'000'000 + 1));
  std::vector<int64_t> lateness_ns(static_cast<size_t>(n));
  double wall_ms = 0;
  spindle::runtime::Runtime rt;
  rt.run([&] {
    spindle::runtime::WaitGroup wg;
    wg.add(n);
    auto start = Clock::now();
    for (long i = 0; i < n; ++i) {
      spindle::runtime::go([&, i] {
        auto deadline = Clock::now() + sleeps[i];
        spindle::runtime::sleep_until(deadline);
        lateness_ns[i] = (Clock::now() - deadline).count();
        wg.done();
      });
    }
    wg.wait();
    wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  });
  std::sort(lateness_ns.begin(), lateness_ns.end());
  double p99 = lateness_ns[static_cast<size_t>(0.99 * static_cast<double>(n - 1))] / 1e3;
  std::printf("RESULT wall_ms %.1f ms\n", wall_ms);
  std::printf("RESULT lateness_p99_us %.1f us\n", p99);
  return 0;
}
