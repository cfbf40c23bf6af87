#include "runtime/profile/frames.h"

#include "runtime/machine.h"

namespace spindle::runtime {

// Reads saved registers of other frames: not the sanitizers' business (ASan would flag reads
// of a frame's redzone neighbourhood, TSan cannot order a signal handler's reads).
__attribute__((no_sanitize("address", "thread"))) int walk_frame_pointers(uintptr_t fp,
                                                                          uintptr_t lo,
                                                                          uintptr_t hi,
                                                                          uintptr_t* pcs, int max) {
  int n = 0;
  while (n < max && fp >= lo && hi >= 16 && fp <= hi - 16 && fp % sizeof(uintptr_t) == 0) {
    const auto* frame = reinterpret_cast<const uintptr_t*>(fp);
    const uintptr_t ret = frame[1];
    const uintptr_t next = frame[0];
    if (ret == 0) break;
    pcs[n++] = ret;
    if (next <= fp) break;
    fp = next;
  }
  return n;
}

__attribute__((noinline)) int goroutine_stack(int skip, uintptr_t* pcs, int max) {
  Machine* m = this_m();
  Goroutine* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr || !g->stack.valid()) return 0;
  // This function's own frame: its return address is in the caller, which we skip as well.
  const auto fp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  const auto lo = reinterpret_cast<uintptr_t>(g->stack.lo());
  const auto hi = reinterpret_cast<uintptr_t>(g->stack.hi());
  uintptr_t buf[kMaxProfileDepth + 8];
  const int want = max + skip + 1 < kMaxProfileDepth + 8 ? max + skip + 1 : kMaxProfileDepth + 8;
  const int n = walk_frame_pointers(fp, lo, hi, buf, want);
  int out = 0;
  for (int i = skip + 1; i < n && out < max; ++i) pcs[out++] = buf[i];
  return out;
}

}  // namespace spindle::runtime
