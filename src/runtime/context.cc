#include "runtime/context.h"

#include <cxxabi.h>

#include <cstdint>
#include <cstring>

extern "C" void spindle_context_trampoline();

namespace spindle::runtime {

#if !defined(__x86_64__)
#error "spindle's context switch is written for x86-64 only (see docs/runtime.md)"
#endif

ExceptionState* thread_exception_state() {
  // The ABI's struct is opaque in <cxxabi.h>; ExceptionState spells out its two fields.
  return reinterpret_cast<ExceptionState*>(abi::__cxa_get_globals());
}

Context make_context(void* stack_top, void (*entry)(void*), void* arg) {
  // The frame spindle_switch_context restores, top down: return address (the trampoline), rbp,
  // rbx, r15, r14, r13 (entry), r12 (arg), then MXCSR and the x87 control word. After the final
  // jump the stack pointer equals the 16-byte aligned top, as the ABI wants before a call.
  auto top = reinterpret_cast<uintptr_t>(stack_top) & ~uintptr_t{15};
  auto* slot = reinterpret_cast<uint64_t*>(top);
  *--slot = reinterpret_cast<uint64_t>(&spindle_context_trampoline);
  *--slot = 0;                                  // rbp
  *--slot = 0;                                  // rbx
  *--slot = 0;                                  // r15
  *--slot = 0;                                  // r14
  *--slot = reinterpret_cast<uint64_t>(entry);  // r13
  *--slot = reinterpret_cast<uint64_t>(arg);    // r12
  *--slot = 0;                                  // MXCSR (low half), x87 CW (high half)
  const uint32_t mxcsr = 0x1F80;                // all exceptions masked, round to nearest
  const uint16_t fpucw = 0x037F;                // likewise for x87
  std::memcpy(slot, &mxcsr, sizeof mxcsr);
  std::memcpy(reinterpret_cast<char*>(slot) + 4, &fpucw, sizeof fpucw);
  return Context{slot};
}

}  // namespace spindle::runtime
