// Context switching between goroutine stacks: a small hand-written switch per architecture
// (x86-64 here; see context_x86_64.S). Why not Boost.Context: docs/runtime.md, "Context switch".
#pragma once

#include <cstddef>

namespace spindle::runtime {

// The saved stack pointer of a goroutine (or an M's scheduler context) that is not running.
// Everything else it needs is on its own stack.
struct Context {
  void* sp = nullptr;
};

// The C++ runtime's per-thread exception globals (Itanium C++ ABI `__cxa_eh_globals`, the same
// layout in libstdc++ and libc++abi on x86-64): the chain of exceptions being handled, innermost
// catch first, and the count of exceptions thrown and not yet caught. They belong to the
// goroutine, not the thread: the scheduler moves them into the thread when a goroutine starts
// running and back out when it switches away (docs/runtime.md, "Exceptions").
struct ExceptionState {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};

// The calling thread's exception globals. The address is fixed for the thread's life, so an M
// looks it up once.
ExceptionState* thread_exception_state();

// Gives the thread the exception state of the goroutine about to run on it. On g0, whose own
// state is always empty (nothing on g0 is inside a catch block).
inline void enter_exception_state(ExceptionState* thread, const ExceptionState& g) { *thread = g; }

// Takes the exception state of the goroutine that just switched away back into it, leaving
// the thread's empty.
inline void leave_exception_state(ExceptionState* thread, ExceptionState* g) {
  *g = *thread;
  *thread = ExceptionState{};
}

// Prepares a fresh stack so that the first switch to the returned context calls entry(arg) on
// it. entry must never return.
Context make_context(void* stack_top, void (*entry)(void*), void* arg);

}  // namespace spindle::runtime

// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores
// the stack pointer in *from_sp and resumes the context whose stack pointer is to_sp.
extern "C" void spindle_switch_context(void** from_sp, void* to_sp);
