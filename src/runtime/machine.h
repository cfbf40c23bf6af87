// Machine (M): an OS thread that runs goroutines while it holds a P. Ms are created lazily,
// parked on a futex when idle and reused, never destroyed before the Runtime. Each has a
// scheduler context (g0: its own thread stack) that goroutines switch back to when they park,
// yield or exit, and on which Machine::run, the scheduling loop, runs (machine.cc has its
// design: switching, and where the next goroutine comes from). Starting, stopping and spinning
// Ms is Idle's protocol (idle.h).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

#include "base/check.h"
#include "runtime/context.h"
#include "runtime/goroutine.h"
#include "runtime/note.h"
#include "runtime/processor.h"
#include "runtime/scheduler.h"

#if defined(SPINDLE_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(SPINDLE_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace spindle::runtime {

class Scheduler;

// One step of wyrand, the generator behind fastrand() (scheduler.h): on an M its state is
// Machine::rand_state.
inline uint32_t wyrand(uint64_t& s) {
  s += 0xa0761d6478bd642full;
  __uint128_t r = static_cast<__uint128_t>(s) * (s ^ 0xe7037ed1a0b428dbull);
  return static_cast<uint32_t>((r >> 64) ^ r);
}

// What the scheduler context does with the goroutine that just switched back to it.
enum class AfterSwitch : uint8_t { kNone, kPark, kYield, kExit, kExitBlocking };

class Machine {
 public:
  Machine(Scheduler& sched, int mid) : id(mid), sched_(sched) {}
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // The thread's body: sets up the thread (TLS, signal stack, sanitizers), takes the P it was
  // started with and runs the scheduling loop until the runtime stops.
  void thread_main();

  // Goroutine side: saves goroutine g (running on this M) and resumes g0, which then finishes
  // the switch (`why`). Returns when g is resumed, possibly on another M: callers re-read
  // this_m().
  void switch_to_g0(Goroutine* g, AfterSwitch why) {
    claim_for_g0();
    after = why;
#if defined(SPINDLE_ASAN)
    __sanitizer_start_switch_fiber(why == AfterSwitch::kExit ? nullptr : &g->asan_fake_stack,
                                   stack_bottom, stack_size);
#endif
#if defined(SPINDLE_TSAN)
    __tsan_switch_to_fiber(tsan_fiber, 0);
#endif
    spindle_switch_context(&g->ctx.sp, g0.sp);
#if defined(SPINDLE_ASAN)
    __sanitizer_finish_switch_fiber(g->asan_fake_stack, nullptr, nullptr);
#endif
  }

  // P ownership. acquire_p and release_p on this M's own thread (or, for release_p, the M that
  // hands its P to a locked M); the P status word is the handshake with sysmon (processor.h).
  void acquire_p(Processor* taken) {
    SPINDLE_CHECK(p == nullptr && taken->m == nullptr, "acquiring a P twice");
    p = taken;
    taken->m = this;
    taken->status.store(pstatus_word(id, PState::kBusy), std::memory_order_release);
  }
  // fastrandn(n) for code running on this M's g0: uniform in [0, n).
  uint32_t randn(uint32_t n) {
    return static_cast<uint32_t>((static_cast<uint64_t>(wyrand(rand_state)) * n) >> 32);
  }

  // Takes the P that Idle::start_m (or start_locked_m) handed over, if any.
  void acquire_nextp() {
    if (nextp != nullptr) {
      acquire_p(nextp);
      nextp = nullptr;
    }
  }
  Processor* release_p() {
    Processor* held = p;
    SPINDLE_CHECK(held != nullptr && held->m == this, "releasing a P the M does not hold");
    held->status.store(kPStatusIdle, std::memory_order_release);
    held->m = nullptr;
    p = nullptr;
    return held;
  }

  const int id;
  std::thread thread;
  Context g0;  // scheduler context, saved while a goroutine runs
  // This thread's C++ exception globals (looked up once when the thread starts).
  ExceptionState* exceptions = nullptr;
  Goroutine* curg = nullptr;      // running goroutine, null on g0
  Processor* p = nullptr;         // held P, null when idle
  Processor* nextp = nullptr;     // P handed over by start_m, taken when woken
  bool spinning = false;          // looking for work with a P and none found yet (idle.h)
  Note park;                      // sleeps here when idle (Idle::stop_m)
  Machine* idle_next = nullptr;   // link in Idle's M list (under the scheduler lock)
  Goroutine* locked_g = nullptr;  // lock_os_thread: the only goroutine this M runs
  Goroutine* next_g = nullptr;    // locked_g handed back by Idle::start_locked_m
  uint64_t rand_state = 0;

  // Set by the goroutine right before it switches to g0, read there (Go's mcall argument).
  AfterSwitch after = AfterSwitch::kNone;
  UnlockFn unlock = nullptr;
  void* unlock_arg = nullptr;

  // Sanitizer bookkeeping for g0.
  void* tsan_fiber = nullptr;
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  void* asan_fake_stack = nullptr;
  void* signal_stack = nullptr;

 private:
  // The scheduling loop, on g0 (machine.cc): returns when the runtime stops.
  void run();
  Goroutine* find_runnable();
  Goroutine* find_local();
  Goroutine* busy_poll(int64_t now);  // now: the clock, or 0 to read it
  // How often a P with goroutines queued looks at its poller shard (busy_poll).
  static constexpr int64_t kBusyPollNs = 100'000;
  Goroutine* steal_work();
  Goroutine* steal_from(Processor* victim, bool take_runnext);
  Goroutine* drop_p_and_recheck();
  void execute(Goroutine* g);
  Goroutine* after_switch(Goroutine* g);
  Goroutine* finish_park(Goroutine* g);
  void finish_exit(Goroutine* g);
  // A goroutine is switching to g0: turn its P from revocable (kRunning) to busy. False, and p
  // cleared, when sysmon took the P while the goroutine ran.
  bool claim_for_g0() {
    if (p == nullptr) return false;
    uint32_t running = pstatus_word(id, PState::kRunning);
    if (p->status.compare_exchange_strong(running, pstatus_word(id, PState::kBusy),
                                          std::memory_order_acq_rel)) {
      return true;
    }
    p = nullptr;
    return false;
  }

  Scheduler& sched_;
};

// The M of the calling thread, or null on threads the runtime did not create. Not inlined, so
// code that parks and resumes on another thread re-reads it (a cached TLS address would be
// the old thread's). Defined in scheduler.cc, whose goroutine-side calls (park, ready, go)
// are its hottest users.
Machine* this_m();
// Binds the calling thread to M m, or unbinds it (null). Machine::thread_main only.
void set_this_m(Machine* m);

}  // namespace spindle::runtime
