// Test-only hooks at the runtime's racy protocol points: a reader starting to wait against a
// close, a new timer against the M blocking in the poller, timer firings against timer_stop,
// read hooks against close. Races between atomics are invisible to TSan and last nanoseconds;
// a stress test installs a hook that lines both sides up (or delays one) to make them happen
// often, and that observes the protocol from inside (the *_stress_test.cc files).
//
// Compiled into every build and off by default: a point then costs one relaxed load of a
// global and a branch predicted not taken.
#pragma once

#include <atomic>
#include <cstdint>

namespace spindle::runtime {

enum class RacePoint : uint8_t {
  kPollWaitAnnounce,  // poll_wait: about to store "wait", then re-check closing/expired (obj: pd)
  kPollEvict,         // poll_evict: about to store closing, then look for waiters (obj: pd)
  kPollerBlock,       // drop_p_and_recheck: about to set poller_blocked_, then read the timers
  kTimerAdd,          // add_timer: about to add the timer, then look for a blocked poller
  kTimerFire,         // run_expired: a firing is about to call fn (obj: the timer)
  kTimerFired,        // run_expired: fn returned (obj: the timer, not to be dereferenced)
  kTimerStopped,      // timer_stop: no firing runs any more; about to return (obj: the timer)
  kPollRecycle,       // poll_close: pd is about to go back to the free list (obj: pd)
  kReadHookArm,       // poll_arm_read_hook: about to publish the hook (obj: pd)
  kReadHookDisarm,    // poll_disarm_read_hook: about to take the hook back (obj: pd)
  kDropPRecheck,      // stop_spinning_and_recheck: P released, still spinning, about to stop
  kSysmonDeepSleep,   // sysmon: every P idle for a while, about to sleep until woken
  kSysmonRetake,      // retake: a goroutine ran 10 ms while others wait; about to CAS its
                      // P's status word from kRunning to idle (obj: the P)
  kGoroutineScan,     // goroutine_snapshot: g's status read, about to read g (obj: g)
  kTraceRecord,       // trace::record: an event is in its ring slot, not yet published
  kTraceDrain,        // trace Session::drain: a ring's events copied, its slots not yet freed
};

// Called at each point with the object named above. Runs on whatever thread reaches the point
// (goroutine or g0, with or without a P): it must not park, and should only spin, count, or
// sleep the thread briefly.
using RaceHook = void (*)(RacePoint point, const void* obj);

namespace internal {
inline std::atomic<RaceHook> race_hook{nullptr};
}  // namespace internal

// Installs `hook` (null: off) for every point. Tests only.
inline void set_race_hook_for_test(RaceHook hook) {
  internal::race_hook.store(hook, std::memory_order_release);
}

inline void race_point(RacePoint point, const void* obj = nullptr) {
  RaceHook hook = internal::race_hook.load(std::memory_order_relaxed);
  if (__builtin_expect(hook != nullptr, 0)) hook(point, obj);
}

}  // namespace spindle::runtime
