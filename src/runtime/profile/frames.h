// Stack walking for the profilers: follows the frame-pointer chain (every spindle preset builds
// with -fno-omit-frame-pointer) within given stack bounds, reading nothing outside them, with
// no allocation and no lock, so the SIGPROF handler can use it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace spindle::runtime {

// Placed right after a call, keeps the compiler from turning it into a tail call (a jump
// that reuses the caller's frame, which then vanishes from every frame-pointer walk). The
// profilers' hooks use it so that the frames they skip are the frames they expect.
inline void keep_frame() { asm volatile("" ::: "memory"); }

// Most frames a profile sample keeps (Go's maxCPUProfStack).
inline constexpr int kMaxProfileDepth = 64;

// Follows the chain of saved frame pointers from fp, appending each frame's return address to
// pcs (at most max). Stops at a frame pointer outside [lo, hi), misaligned or not above the
// previous one, or a null return address: a frame of code built without frame pointers ends
// the walk early instead of faulting. Async-signal-safe. Returns the count written.
int walk_frame_pointers(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t* pcs, int max);

// The return addresses of the calling goroutine's stack, innermost first, skipping `skip`
// frames above the caller's own (0: the first is the caller's return address, in its caller).
// 0 when not called on a goroutine.
int goroutine_stack(int skip, uintptr_t* pcs, int max);

}  // namespace spindle::runtime
