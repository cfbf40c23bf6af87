// Mutex micro-benchmarks. Compare with the Go peer's "mutex" (bench/peers/go/runtime): N
// increments by 8 goroutines under one Mutex, in ns per lock+unlock.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "runtime/runtime.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/wait_group.h"

namespace spindle::runtime {
namespace {

// Uncontended lock+unlock by one goroutine (the fast path: one CAS, one atomic add). Arg:
// processors.
void BM_MutexUncontended(benchmark::State& state) {
  Runtime rt(Options{.procs = static_cast<int>(state.range(0))});
  rt.run([&state] {
    Mutex mu;
    int64_t counter = 0;
    for (auto _ : state) {
      mu.lock();
      ++counter;
      mu.unlock();
    }
    benchmark::DoNotOptimize(counter);
  });
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MutexUncontended)->Arg(1)->UseRealTime();

// One lock+unlock per iteration, the iterations split over 8 goroutines incrementing one
// counter: contended spinning, parking and handoff. Arg: processors. Items/s = locks/s.
void BM_MutexContended8(benchmark::State& state) {
  constexpr int kGoroutines = 8;
  constexpr int64_t kBatch = 1000;  // lock+unlocks per goroutine per spawn round
  Runtime rt(Options{.procs = static_cast<int>(state.range(0))});
  rt.run([&state] {
    Mutex mu;
    int64_t counter = 0;
    for (auto _ : state) {
      WaitGroup wg;
      wg.add(kGoroutines);
      for (int g = 0; g < kGoroutines; ++g) {
        go([&] {
          for (int64_t i = 0; i < kBatch; ++i) {
            mu.lock();
            ++counter;
            mu.unlock();
          }
          wg.done();
        });
      }
      wg.wait();
    }
    benchmark::DoNotOptimize(counter);
  });
  state.SetItemsProcessed(state.iterations() * kGoroutines * kBatch);
}
BENCHMARK(BM_MutexContended8)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->UseRealTime();

}  // namespace
}  // namespace spindle::runtime

BENCHMARK_MAIN();
