// Context switch cost: spindle's hand-written x86-64 switch against Boost.Context's fcontext
// (the alternative considered in docs/runtime.md, "Context switch"), and the same switch with
// the goroutine's C++ exception state moved in and out around it as the scheduler does
// (docs/runtime.md, "Exceptions"). Each iteration is one round trip: main -> coroutine -> main
// (two switches).
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

// As Machine::execute: the goroutine's exception state enters the thread before the switch
// and leaves it after.
void BM_SpindleSwitchWithExceptionStateRoundTrip(benchmark::State& state) {
  Stack stack = Stack::allocate(64 * 1024);
  g_coro = make_context(stack.hi(), &coro_entry, nullptr);
  ExceptionState* thread = thread_exception_state();
  ExceptionState coro_exceptions;
  for (auto _ : state) {
    enter_exception_state(thread, coro_exceptions);
    spindle_switch_context(&g_main.sp, g_coro.sp);
    leave_exception_state(thread, &coro_exceptions);
  }
  stack.release();
}
BENCHMARK(BM_SpindleSwitchWithExceptionStateRoundTrip);

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
