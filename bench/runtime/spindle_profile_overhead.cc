// spindle-profile-overhead: what a running CPU profile (100 Hz per thread of CPU time, as
// /debug/pprof/profile takes it) costs a CPU-bound program. Runs a workload --runs times
// with the profiler off and on, alternating, and prints the wall and CPU time of each run
// and the medians' ratio. Workloads: `compute` (one goroutine per processor multiplying in
// a loop, yielding every ~1 ms: almost all time in user code) and `skynet` (Go's skynet: a
// tree of 1M goroutines summing over channels: almost all time in the scheduler).
// `signal` measures one sample directly: the thread sends itself SIGPROF 100,000 times with a
// profile running (delivery, the handler's walk and ring write, the drains) and prints the
// nanoseconds per signal.
// --hz sets the sampling rate (the kernel's tick, 250 Hz on Debian, caps what it delivers).
// Usage: spindle-profile-overhead [compute|skynet|signal] [--runs N] [--hz N]
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/channel.h"
#include "runtime/profile/cpu_profile.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/time.h"

namespace {

using namespace spindle::runtime;
using namespace std::chrono_literals;

std::atomic<uint64_t> g_sink{0};

__attribute__((noinline)) uint64_t mix(uint64_t x) {
  for (int i = 0; i < 1'000'000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

void compute(int procs) {
  WaitGroup wg;
  wg.add(procs);
  for (int p = 0; p < procs; ++p) {
    go([&wg, p] {
      uint64_t x = static_cast<uint64_t>(p);
      for (int i = 0; i < 2000; ++i) {
        x = mix(x);
        yield();
      }
      g_sink += x;
      wg.done();
    });
  }
  wg.wait();
}

void skynet_node(Chan<int64_t> out, int64_t num, int64_t size) {
  if (size == 1) {
    out.send(num);
    return;
  }
  Chan<int64_t> c = make_chan<int64_t>(10);
  const int64_t step = size / 10;
  for (int64_t i = 0; i < 10; ++i) go([c, num, step, i] { skynet_node(c, num + i * step, step); });
  int64_t sum = 0;
  for (int i = 0; i < 10; ++i) sum += *c.recv();
  out.send(sum);
}

void skynet() {
  Chan<int64_t> out = make_chan<int64_t>(1);
  go([out] { skynet_node(out, 0, 1'000'000); });
  g_sink += static_cast<uint64_t>(*out.recv());
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Run {
  double wall, cpu;
  int64_t samples;
};

// One run of the workload, profiled or not, in its own Runtime.
Run run_once(const std::string& workload, bool profiled, int hz) {
  Runtime rt;
  Run r{0, 0, 0};
  rt.run([&] {
    std::unique_ptr<CpuProfiler> prof;
    std::atomic<bool> done{false};
    WaitGroup collector;
    if (profiled) {
      prof = CpuProfiler::start(hz);
      collector.add(1);
      go([&] {  // drains the rings every 100 ms, as the debug page does
        while (!done) {
          sleep_for(100ms);
          prof->collect();
        }
        collector.done();
      });
    }
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    if (workload == "compute") {
      compute(rt.procs());
    } else {
      skynet();
    }
    r.cpu = cpu_seconds() - c0;
    r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    done = true;
    if (profiled) {
      collector.wait();
      prof->stop();
      r.samples = prof->samples();
    }
  });
  return r;
}

// ns per SIGPROF the calling M sends itself while a profile runs (at 1 Hz, so the timer adds
// next to nothing), draining the rings every 128 signals as the page's goroutine would.
// profiled false: the same signals with no profile running (the handler returns at once), which
// is the kernel's delivery alone.
__attribute__((noinline)) double signal_cost(bool profiled) {
  double ns = 0;
  Runtime rt;
  rt.run([&] {
    std::unique_ptr<CpuProfiler> prof = CpuProfiler::start(1);
    if (!profiled) prof->stop();
    constexpr int kSignals = 100'000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 1; i <= kSignals; ++i) {
      pthread_kill(pthread_self(), SIGPROF);
      if (i % 128 == 0) prof->collect();
    }
    ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
         kSignals;
    prof->stop();
    if (profiled) {
      std::printf("signal samples=%lld lost=%llu\n", static_cast<long long>(prof->samples()),
                  static_cast<unsigned long long>(prof->lost()));
    }
  });
  return ns;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string workload = "compute";
  int runs = 5;
  int hz = CpuProfiler::kDefaultHz;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--hz") == 0 && i + 1 < argc) {
      hz = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "signal") == 0) {
      workload = argv[i];
    } else if (std::strcmp(argv[i], "compute") == 0 || std::strcmp(argv[i], "skynet") == 0) {
      workload = argv[i];
    } else {
      std::fprintf(stderr, "usage: %s [compute|skynet|signal] [--runs N] [--hz N]\n", argv[0]);
      return 2;
    }
  }
  if (workload == "signal") {
    for (int i = 0; i < runs; ++i) {
      const double off = signal_cost(false);
      const double on = signal_cost(true);
      std::printf("RESULT signal_ns_profiled %.0f signal_ns_delivery_only %.0f\n", on, off);
    }
    return 0;
  }
  std::vector<double> wall[2], cpu[2];
  for (int i = 0; i < runs; ++i) {
    for (int profiled = 0; profiled < 2; ++profiled) {
      const Run r = run_once(workload, profiled == 1, hz);
      wall[profiled].push_back(r.wall);
      cpu[profiled].push_back(r.cpu);
      std::printf("%s run %d profile=%s wall=%.3fs cpu=%.3fs samples=%lld\n", workload.c_str(), i,
                  profiled ? "on" : "off", r.wall, r.cpu, static_cast<long long>(r.samples));
    }
  }
  const double wall_ratio = median(wall[1]) / median(wall[0]);
  const double cpu_ratio = median(cpu[1]) / median(cpu[0]);
  std::printf("RESULT %s wall_on_over_off %.4f cpu_on_over_off %.4f\n", workload.c_str(),
              wall_ratio, cpu_ratio);
}
