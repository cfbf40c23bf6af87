// Context switch cost: spindle's hand-written x86-64 switch against Boost.Context's fcontext
// (the alternative considered in docs/runtime.md, "Context switch"). Each iteration is one
// round trip: main -> coroutine -> main (two switches).
#include <benchmark/benchmark.h>

#include <boost/context/detail/fcontext.hpp>

#include "runtime/context.h"
#include "runtime/stack.h"

namespace spindle::runtime {
namespace {

Context g_main, g_coro;

void coro_entry(void*) {
  for (;;) spindle_switch_context(&g_coro.sp, g_main.sp);
}

void BM_SpindleSwitchRoundTrip(benchmark::State& state) {
  Stack stack = Stack::allocate(64 * 1024);
  g_coro = make_context(stack.hi(), &coro_entry, nullptr);
  for (auto _ : state) spindle_switch_context(&g_main.sp, g_coro.sp);
  stack.release();
}
BENCHMARK(BM_SpindleSwitchRoundTrip);

namespace bctx = boost::context::detail;

void fcontext_entry(bctx::transfer_t t) {
  for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
}

void BM_BoostFcontextRoundTrip(benchmark::State& state) {
  Stack stack = Stack::allocate(64 * 1024);
  bctx::fcontext_t coro = bctx::make_fcontext(stack.hi(), stack.usable(), &fcontext_entry);
  for (auto _ : state) coro = bctx::jump_fcontext(coro, nullptr).fctx;
  stack.release();
}
BENCHMARK(BM_BoostFcontextRoundTrip);

}  // namespace
}  // namespace spindle::runtime

BENCHMARK_MAIN();
