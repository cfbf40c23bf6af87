// spindle-runtime-peer: spindle's side of bench/runtime-vs-go. Each subcommand runs one
// scheduler micro-benchmark on a spindle Runtime and prints exactly one line
// "RESULT <name> <value> <unit>" on stdout, like its Go twin bench/peers/go/runtime: keep the
// two in step. Processors come from SPINDLE_MAXPROCS (Options.procs = 0).
//
// Usage: spindle-runtime-peer spawn|pingpong|skynet|yield|mutex|parked-mem|parked-spawn [N]
// With SPINDLE_PEER_TRACE=1 an execution trace records the whole run (drained every 10 ms from
// a thread outside the runtime, as the debug listener's /debug/pprof/trace does), and its event
// counts go to stderr: the tracer's overhead is the difference to a run without it.

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/wait_group.h"
#include "runtime/trace.h"

namespace spindle::runtime {
namespace {

using base::Clock;

struct Result {
  double value;
  const char* unit;
};

struct Benchmark {
  const char* name;
  Result (*run)(int64_t n, int procs);
  int64_t default_n;
  const char* description;
};

// A wrong result (a broken benchmark, not a slow one): report and exit 1.
[[noreturn]] void fail(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::fputs("spindle-runtime-peer: ", stderr);
  std::vfprintf(stderr, format, args);
  std::fputc('\n', stderr);
  va_end(args);
  std::exit(1);
}

double ns_per(Clock::time_point start, int64_t ops) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / ops;
}

// Starts n goroutines from one goroutine, each writing its index to its own slot, and waits
// for all of them.
Result spawn(int64_t n, int) {
  std::vector<int64_t> slots(n);
  WaitGroup wg;
  auto start = Clock::now();
  wg.add(n);
  for (int64_t i = 0; i < n; i++) {
    go([&slots, &wg, i] {
      slots[i] = i;
      wg.done();
    });
  }
  wg.wait();
  double ns = ns_per(start, n);
  if (slots[n - 1] != n - 1) fail("spawn: goroutine %lld did not run", (long long)(n - 1));
  return {ns, "ns/goroutine"};
}

// Sends a value back and forth n times between two goroutines over two unbuffered channels.
Result pingpong(int64_t n, int) {
  auto ping = make_chan<int64_t>(0);
  auto pong = make_chan<int64_t>(0);
  go([ping, pong]() mutable {
    while (std::optional<int64_t> v = ping.recv()) pong.send(*v + 1);
    pong.close();
  });
  auto start = Clock::now();
  int64_t v = 0;
  for (int64_t i = 0; i < n; i++) {
    ping.send(v);
    v = *pong.recv();
  }
  double ns = ns_per(start, n);
  ping.close();
  pong.recv();
  if (v != n) fail("pingpong: got %lld after %lld round trips", (long long)v, (long long)n);
  return {ns, "ns/roundtrip"};
}

// Sends the sum of num..num+size-1 to c, computed by a tree of goroutines with `div`
// children per node and one goroutine per leaf.
void skynet_node(Chan<int64_t> c, int64_t num, int64_t size, int64_t div) {
  if (size == 1) {
    c.send(num);
    return;
  }
  auto rc = make_chan<int64_t>(0);
  int64_t child = size / div;
  for (int64_t i = 0; i < div; i++) {
    go([rc, first = num + i * child, child, div] { skynet_node(rc, first, child, div); });
  }
  int64_t sum = 0;
  for (int64_t i = 0; i < div; i++) sum += *rc.recv();
  c.send(sum);
}

// The tree over n leaves (a power of 10); checks the sum.
Result skynet(int64_t n, int) {
  auto c = make_chan<int64_t>(0);
  auto start = Clock::now();
  go([c, n] { skynet_node(c, 0, n, 10); });
  int64_t sum = *c.recv();
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (int64_t want = n * (n - 1) / 2; sum != want) {
    fail("skynet: sum %lld, want %lld", (long long)sum, (long long)want);
  }
  return {ms, "ms"};
}

// 2*procs goroutines each call yield() n/G times.
Result yield_bench(int64_t n, int procs) {
  int64_t g = procs * 2;
  int64_t per = n / g > 0 ? n / g : 1;
  WaitGroup wg;
  wg.add(g);
  auto start = Clock::now();
  for (int64_t i = 0; i < g; i++) {
    go([&wg, per] {
      for (int64_t j = 0; j < per; j++) yield();
      wg.done();
    });
  }
  wg.wait();
  return {ns_per(start, g * per), "ns/yield"};
}

// 8 goroutines share n increments of one counter guarded by a Mutex.
Result mutex_bench(int64_t n, int) {
  constexpr int64_t kWorkers = 8;
  int64_t per = n / kWorkers > 0 ? n / kWorkers : 1;
  Mutex mu;
  int64_t counter = 0;
  WaitGroup ready, wg;
  ready.add(1);
  wg.add(kWorkers);
  for (int64_t i = 0; i < kWorkers; i++) {
    go([&mu, &counter, &ready, &wg, per] {
      ready.wait();
      for (int64_t j = 0; j < per; j++) {
        mu.lock();
        counter++;
        mu.unlock();
      }
      wg.done();
    });
  }
  auto start = Clock::now();
  ready.done();
  wg.wait();
  double ns = ns_per(start, kWorkers * per);
  if (counter != kWorkers * per) {
    fail("mutex: counter %lld, want %lld", (long long)counter, (long long)(kWorkers * per));
  }
  return {ns, "ns/op"};
}

// VmRSS from /proc/self/status, after returning free heap memory to the OS (the counterpart
// of the Go peer's GC + FreeOSMemory).
int64_t settled_resident_bytes() {
  malloc_trim(0);
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) fail("parked-mem: cannot open /proc/self/status");
  char line[256];
  long long kb = -1;
  while (kb < 0 && std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmRSS: %lld kB", &kb) != 1) kb = -1;
  }
  std::fclose(f);
  if (kb < 0) fail("parked-mem: no VmRSS in /proc/self/status");
  return kb * 1024;
}

// Spawns n goroutines that each park on a receive from one channel, calls while_parked()
// once all have started, then closes the channel to release them and waits for them.
template <typename F>
void with_parked_goroutines(int64_t n, F while_parked) {
  auto release = make_chan<int>(0);
  WaitGroup started, finished;
  started.add(n);
  finished.add(n);
  for (int64_t i = 0; i < n; i++) {
    go([release, &started, &finished]() mutable {
      started.done();
      release.recv();
      finished.done();
    });
  }
  started.wait();
  while_parked();
  release.close();
  finished.wait();
}

// The RSS n parked goroutines add.
Result parked_mem(int64_t n, int) {
  int64_t before = settled_resident_bytes(), after = 0;
  with_parked_goroutines(n, [&] { after = settled_resident_bytes(); });
  return {double(after - before) / n, "bytes/goroutine"};
}

// The time to start n goroutines that stay parked (each needs a stack of its own).
Result parked_spawn(int64_t n, int) {
  auto start = Clock::now();
  double ns = 0;
  with_parked_goroutines(n, [&] { ns = ns_per(start, n); });
  return {ns, "ns/goroutine"};
}

constexpr Benchmark kBenchmarks[] = {
    {"spawn", spawn, 1000000, "spawn and join N goroutines; ns per goroutine"},
    {"pingpong", pingpong, 1000000, "N round trips over unbuffered channels; ns per round trip"},
    {"skynet", skynet, 1000000, "N leaf goroutines, fan-out 10, sums over channels; total ms"},
    {"yield", yield_bench, 1000000, "N yields over 2*procs goroutines; ns per yield"},
    {"mutex", mutex_bench, 1000000, "N increments by 8 goroutines under one Mutex; ns per op"},
    {"parked-mem", parked_mem, 100000, "N goroutines parked on a receive; RSS per goroutine"},
    {"parked-spawn", parked_spawn, 100000,
     "spawn N goroutines that each park on a receive; ns per goroutine until all are parked"},
};

[[noreturn]] void usage() {
  std::fputs("usage: spindle-runtime-peer <benchmark> [N]\n", stderr);
  for (const Benchmark& b : kBenchmarks) {
    std::fprintf(stderr, "  %-10s (N=%lld) %s\n", b.name, (long long)b.default_n, b.description);
  }
  std::exit(2);
}

int main_with(int argc, char** argv) {
  if (argc < 2 || argc > 3) usage();
  const Benchmark* bench = nullptr;
  for (const Benchmark& b : kBenchmarks) {
    if (std::strcmp(argv[1], b.name) == 0) bench = &b;
  }
  if (!bench) usage();
  int64_t n = bench->default_n;
  if (argc == 3) {
    char* end = nullptr;
    n = std::strtoll(argv[2], &end, 10);
    if (*end != '\0' || n <= 0) {
      std::fprintf(stderr, "spindle-runtime-peer: N must be a positive integer, got \"%s\"\n",
                   argv[2]);
      return 2;
    }
  }
  Runtime rt;
  int procs = rt.procs();
  Result result{};
  std::atomic<bool> done{false};
  std::thread tracer;
  if (const char* env = std::getenv("SPINDLE_PEER_TRACE"); env != nullptr && env[0] == '1') {
    auto session = trace::Session::start();
    tracer = std::thread([&done, s = std::move(session)] {
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        s->drain();
      }
      const trace::Trace t = s->stop();
      std::fprintf(stderr, "trace: %zu events kept, %llu dropped\n", t.events.size(),
                   static_cast<unsigned long long>(t.dropped));
    });
  }
  rt.run([&result, bench, n, procs] { result = bench->run(n, procs); });
  done = true;
  if (tracer.joinable()) tracer.join();
  std::printf("RESULT %s %.1f %s\n", bench->name, result.value, result.unit);
  return 0;
}

}  // namespace
}  // namespace spindle::runtime

int main(int argc, char** argv) { return spindle::runtime::main_with(argc, argv); }
