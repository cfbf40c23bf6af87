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

// Prepares a fresh stack so that the first switch to the returned context calls entry(arg) on
// it. entry must never return.
Context make_context(void* stack_top, void (*entry)(void*), void* arg);

}  // namespace spindle::runtime

// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores
// the stack pointer in *from_sp and resumes the context whose stack pointer is to_sp.
extern "C" void spindle_switch_context(void** from_sp, void* to_sp);
