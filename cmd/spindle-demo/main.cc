// spindle-demo: a runtime demo. Runs skynet (1M leaf goroutines,
// fan-out 10, sums passed back over channels), then prints a scheduler summary.
//
//   spindle-demo [--procs N] [--leaves N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "base/version.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"

namespace {

using spindle::runtime::Chan;

void skynet(Chan<int64_t> out, int64_t num, int64_t size, int64_t div) {
  if (size == 1) {
    out.send(num);
    return;
  }
  auto rc = spindle::runtime::make_chan<int64_t>();
  int64_t child = size / div;
  for (int64_t i = 0; i < div; ++i) {
    spindle::runtime::go([rc, num, i, child, div] { skynet(rc, num + i * child, child, div); });
  }
  int64_t sum = 0;
  for (int64_t i = 0; i < div; ++i) sum += *rc.recv();
  out.send(sum);
}

int usage(const char* msg) {
  std::fprintf(stderr, "spindle-demo: %s\nusage: spindle-demo [--procs N] [--leaves 10^k]\n", msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int procs = 0;
  int64_t leaves = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--procs" || a == "--leaves") && i + 1 < argc) {
      char* end = nullptr;
      long long v = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0' || v <= 0) return usage(("bad value for " + a).c_str());
      if (a == "--procs") {
        procs = static_cast<int>(v);
      } else {
        leaves = v;
      }
    } else if (a == "--version") {
      std::printf("%s\n", spindle::base::version_line("spindle-demo").c_str());
      return 0;
    } else if (a == "--help" || a == "-h") {
      return usage("runs skynet and prints a scheduler summary");
    } else {
      return usage(("unknown argument " + a).c_str());
    }
  }
  int64_t check = leaves;
  while (check % 10 == 0 && check > 1) check /= 10;
  if (check != 1) return usage("--leaves must be a power of 10");

  spindle::runtime::Runtime rt(spindle::runtime::Options{.procs = procs});
  int64_t result = 0;
  auto start = std::chrono::steady_clock::now();
  rt.run([&] {
    auto out = spindle::runtime::make_chan<int64_t>();
    spindle::runtime::go([out, leaves] { skynet(out, 0, leaves, 10); });
    result = *out.recv();
  });
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  const int64_t want = leaves * (leaves - 1) / 2;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the Ms settle
  spindle::runtime::Stats s = rt.stats();
  std::printf("skynet: %lld leaves, sum %lld (%s) in %.1f ms\n", static_cast<long long>(leaves),
              static_cast<long long>(result), result == want ? "correct" : "WRONG", ms.count());
  std::printf(
      "scheduler: gomaxprocs=%lld idleprocs=%lld threads=%lld idlethreads=%lld "
      "spinningthreads=%lld runqueue=%lld\n",
      static_cast<long long>(s.procs), static_cast<long long>(s.idle_procs),
      static_cast<long long>(s.threads), static_cast<long long>(s.idle_threads),
      static_cast<long long>(s.spinning_threads), static_cast<long long>(s.global_runq));
  std::printf(
      "           goroutines created=%llu steals=%llu global-queue batches=%llu "
      "thread wake-ups=%llu\n",
      static_cast<unsigned long long>(s.goroutines_created),
      static_cast<unsigned long long>(s.steals), static_cast<unsigned long long>(s.global_takes),
      static_cast<unsigned long long>(s.thread_wakeups));
  return result == want ? 0 : 1;
}
