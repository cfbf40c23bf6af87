// Block and mutex profiles (Go's runtime.SetBlockProfileRate / SetMutexProfileFraction and
// /debug/pprof/block, /debug/pprof/mutex): sampled stacks of goroutines that waited on
// channels, select, sync primitives and the netpoller (block), and of goroutines whose unlock
// of a contended Mutex or RWMutex released a waiter (mutex), each weighted by the time waited.
// Both are off by default; off, parking costs one relaxed load. Design:
// docs/observability.md ("Block and mutex profiles").
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "runtime/goroutine.h"

namespace spindle::runtime {

// Go's SetBlockProfileRate: aims to sample one blocking event per `rate` nanoseconds spent
// blocked (an event of d >= rate ns always, a shorter one with probability d/rate). 1: every
// event. <= 0: off (the default).
void set_block_profile_rate(int64_t rate_ns);
// Go's SetMutexProfileFraction: on average 1 in `rate` contention events is reported. 0: off
// (the default). A negative rate only reads. Returns the previous rate.
int set_mutex_profile_fraction(int rate);
int64_t block_profile_rate();

// One stack's accumulated waits. Block: count is corrected for sampling bias (Go's
// rate/delay per sampled short event), delay is the sampled delay. Mutex: both as sampled;
// multiply by the fraction to estimate the totals (the pprof encoding does).
struct WaitRecord {
  std::vector<uintptr_t> pcs;  // return addresses, innermost first
  int64_t count = 0;
  int64_t delay_ns = 0;
};
// Everything recorded since the process started (as Go's, never reset), by delay, largest
// first.
std::vector<WaitRecord> block_profile();
std::vector<WaitRecord> mutex_profile();

// ---------------------------------------------------------------------------------------------
// Hooks (scheduler.cc, scheduler_poll.cc, sync/sema.cc).

namespace wait_profile_internal {
// True when either profile is on: the one relaxed load parking pays while both are off.
inline std::atomic<bool> g_on{false};
}  // namespace wait_profile_internal

inline bool wait_profiling() { return wait_profile_internal::g_on.load(std::memory_order_relaxed); }
// The start time to put in g->blocked_at for a park with `reason` (0: not timed).
int64_t wait_profile_begin(WaitReason reason);
// Called by the parked goroutine once it runs again, when g->blocked_at != 0: records a block
// event if sampled, and clears the goroutine's times.
void wait_profile_end(Goroutine* g, WaitReason reason);
// Called by a goroutine whose release (Sema::release) woke a waiter parked at `since` for
// `reason`: records a mutex event at the caller's stack if sampled.
void mutex_profile_release(int64_t since, WaitReason reason);

}  // namespace spindle::runtime
