// Channel micro-benchmarks. Each runs its loop inside a goroutine of a fresh Runtime; times are
// wall-clock (goroutines migrate between threads, so per-thread CPU time means nothing here).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <optional>

#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "runtime/select.h"

namespace spindle::runtime {
namespace {

void run_in_runtime(int procs, base::Task body) {
  Runtime rt(Options{.procs = procs});
  rt.run(std::move(body));
}

// One round trip over two unbuffered channels between two goroutines (two hand-offs, two
// park/ready pairs). Argument: processors.
void BM_PingPong(benchmark::State& state) {
  run_in_runtime(static_cast<int>(state.range(0)), [&state] {
    Chan<int> ping = make_chan<int>();
    Chan<int> pong = make_chan<int>();
    go([ping, pong]() mutable {
      while (std::optional<int> v = ping.recv()) pong.send(*v);
    });
    int i = 0;
    for (auto _ : state) {
      ping.send(i++);
      benchmark::DoNotOptimize(pong.recv());
    }
    ping.close();
  });
}
BENCHMARK(BM_PingPong)->Arg(1)->Arg(2)->UseRealTime();

// The same round trip where both sides use a two-case select (the extra case never fires).
// Argument: processors.
void BM_SelectPingPong(benchmark::State& state) {
  run_in_runtime(static_cast<int>(state.range(0)), [&state] {
    Chan<int> ping = make_chan<int>();
    Chan<int> pong = make_chan<int>();
    Chan<int> quit = make_chan<int>();
    go([ping, pong, quit]() mutable {
      for (;;) {
        Select s;
        std::optional<int> v;
        std::optional<int> q;
        s.recv(ping, &v);
        int quit_case = s.recv(quit, &q);
        if (s.wait() == quit_case) return;
        pong.send(*v);
      }
    });
    int i = 0;
    for (auto _ : state) {
      ping.send(i++);
      Select s;
      std::optional<int> v;
      std::optional<int> q;
      s.recv(pong, &v);
      s.recv(quit, &q);
      benchmark::DoNotOptimize(s.wait());
    }
    quit.close();
  });
}
BENCHMARK(BM_SelectPingPong)->Arg(1)->Arg(2)->UseRealTime();

// Values per second through a buffered channel from one producer to one consumer. Argument:
// channel capacity (processors: 2).
void BM_BufferedThroughput(benchmark::State& state) {
  size_t capacity = static_cast<size_t>(state.range(0));
  run_in_runtime(2, [&state, capacity] {
    Chan<int64_t> ch = make_chan<int64_t>(capacity);
    Chan<int64_t> done = make_chan<int64_t>();
    go([ch, done]() mutable {
      int64_t sum = 0;
      while (std::optional<int64_t> v = ch.recv()) sum += *v;
      done.send(sum);
    });
    int64_t i = 0;
    for (auto _ : state) ch.send(i++);
    ch.close();
    benchmark::DoNotOptimize(done.recv());
  });
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BufferedThroughput)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime();

// Uncontended try_send + try_recv on a buffered channel: the lock and element moves alone.
void BM_TrySendTryRecv(benchmark::State& state) {
  run_in_runtime(1, [&state] {
    Chan<int> ch = make_chan<int>(1);
    for (auto _ : state) {
      ch.try_send(1);
      benchmark::DoNotOptimize(ch.try_recv());
    }
  });
}
BENCHMARK(BM_TrySendTryRecv)->UseRealTime();

}  // namespace
}  // namespace spindle::runtime

BENCHMARK_MAIN();
