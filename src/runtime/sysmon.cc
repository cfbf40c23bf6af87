// sysmon and blocking calls.
//
// sysmon is a thread with no P (Go's sysmon). It sleeps 20 us, doubling up to 10 ms after 50
// rounds in which it had nothing to do, and sleeps until woken once no goroutine has run for
// a few rounds at 10 ms, so an idle runtime uses no CPU. Each round it:
//   1. polls the network if nobody has for 10 ms and no M is blocked in the poller;
//   2. starts an M if a timer is overdue and nobody is running timers;
//   3. retakes Ps (retake): from Ms in a blocking call for more than one round (~20 us) when
//      the P has work or nobody else is spinning or idle, and from Ms whose goroutine has run
//      10 ms without yielding while other goroutines wait; after 1 ms of such waiting it first
//      wakes an idle P to steal them (polls queue small batches without waking, run_polled).
//
// Fairness (the 10 ms rule). Go preempts a long-running goroutine asynchronously with a signal
// and switches it out wherever it is. C++ code cannot be switched out at an arbitrary
// instruction: it may be inside malloc, hold a std::mutex, or be in the middle of a lock-free
// update; resuming it on another thread would break thread-local state. So spindle never stops
// the long runner. It takes its *processor* away instead, exactly as for a blocking call: the
// P goes to another M, which runs the goroutines that were waiting, while the long runner
// keeps its thread and the kernel time-slices the two threads. The long runner notices at its
// next runtime call or yield point (its P status word no longer names it) and then queues
// itself like a goroutine returning from a blocking call. Safe for arbitrary C++ code; the
// cost is one extra thread per long runner while it runs.
// Rejected: signal-based asynchronous preemption (unsafe in C++, see above); a preempt flag
// checked only at yield points (a loop without yield points would starve its P forever);
// compiler-inserted checks (needs every library rebuilt).

#include <algorithm>
#include <cstdint>
#include <string>

#include "base/check.h"
#include "runtime/blocking.h"
#include "runtime/scheduler_internal.h"

namespace spindle::runtime {

namespace {
constexpr int64_t kSysmonMinNs = 20'000;
constexpr int64_t kSysmonMaxNs = 10'000'000;
constexpr int64_t kForcePollNs = 10'000'000;
constexpr int64_t kLongRunNs = 10'000'000;
constexpr int64_t kQueueWaitNs = 1'000'000;
constexpr int kDeepSleepRounds = 5;
constexpr int64_t kLongSyscallNs = 10'000'000;
constexpr size_t kStackReserve = 1024;  // released stacks kept resident for quick reuse
constexpr size_t kScavengePerRound = 256;
}  // namespace

void Scheduler::sysmon_main() {
  int idle_rounds = 0;
  int all_idle_rounds = 0;  // consecutive rounds with every P idle and nothing run meanwhile
  uint64_t idle_ticks = 0;  // the Ps' schedticks summed at the last all-idle round
  int64_t delay = kSysmonMinNs;
  while (!shutting_down_.load()) {
    delay = idle_rounds == 0   ? kSysmonMinNs
            : idle_rounds > 50 ? std::min(delay * 2, kSysmonMaxNs)
                               : delay;
    sysmon_note_.sleep_for(delay);
    if (shutting_down_.load()) break;
    if (idle_.idle_p_count() == procs()) {
      // Nothing runs now. Only once nothing has run for a while (the delay at its maximum
      // and no goroutine scheduled for 5 rounds, ~50 ms): return every cached stack page to
      // the kernel, then sleep until a P goes busy (wake_sysmon) or a minute passes.
      // Sleeping whenever a round found every P idle cost a futex wake-up plus 50 rounds at
      // 20 us per idle-to-busy transition, which under moderate network load (Ps idle
      // between events) came to hundreds per second and ~3% of a proxy's CPU.
      ++idle_rounds;
      uint64_t ticks = 0;  // unchanged across rounds: nothing ran in between
      for (auto& p : allp_) ticks += p->schedtick.load(std::memory_order_relaxed);
      all_idle_rounds = ticks == idle_ticks ? all_idle_rounds + 1 : 0;
      idle_ticks = ticks;
      if (delay < kSysmonMaxNs || all_idle_rounds < kDeepSleepRounds) continue;
      scavenge_stacks(0, SIZE_MAX);
      sysmon_sleeping_.store(true);
      if (idle_.idle_p_count() == procs()) {
        race_point(RacePoint::kSysmonDeepSleep);
        sysmon_note_.sleep_for(60'000'000'000);
      }
      sysmon_sleeping_.store(false);
      idle_rounds = 0;
      all_idle_rounds = 0;
      continue;
    }
    all_idle_rounds = 0;
    const int64_t now = now_ns();
    if (netpoll_->waiters() > 0 && !poller_blocked_.load() &&
        now - last_poll_ns_.load(std::memory_order_relaxed) > kForcePollNs) {
      GList list;
      netpoll_->poll_all(list);
      last_poll_ns_.store(now, std::memory_order_relaxed);
      inject_list(list);
    }
    if (nearest_timer() < now - 1'000'000 && !poller_blocked_.load() && idle_.idle_p_count() > 0) {
      idle_.start_m(nullptr, false);
    }
    idle_rounds = retake(now) > 0 ? 0 : idle_rounds + 1;
    // Released stacks beyond a reserve give their pages back, a few per round.
    scavenge_stacks(kStackReserve, kScavengePerRound);
  }
}

int Scheduler::retake(int64_t now) {
  int taken = 0;
  for (auto& owned : allp_) {
    Processor* p = owned.get();
    uint32_t word = p->status.load(std::memory_order_acquire);
    PState state = pstate_of(word);
    if (state == PState::kSyscall) {
      uint32_t tick = p->syscalltick.load(std::memory_order_relaxed);
      if (p->sysmon_syscalltick != tick) {  // a new call: give it one round
        p->sysmon_syscalltick = tick;
        p->sysmon_syscallwhen = now;
        continue;
      }
      // Don't hand off a P with nothing to do while others could help, unless long blocked.
      if (p->runq.empty() && global_.size() == 0 &&
          idle_.spinning_m_count() + idle_.idle_p_count() > 0 &&
          now - p->sysmon_syscallwhen < kLongSyscallNs) {
        continue;
      }
      if (p->status.compare_exchange_strong(word, kPStatusIdle)) {
        p->m = nullptr;
        handoffs_.fetch_add(1, std::memory_order_relaxed);
        idle_.hand_off_p(p);
        ++taken;
      }
    } else if (state == PState::kRunning || state == PState::kBusy) {
      uint32_t tick = p->schedtick.load(std::memory_order_relaxed);
      if (p->sysmon_schedtick != tick) {
        p->sysmon_schedtick = tick;
        p->sysmon_schedwhen = now;
        continue;
      }
      bool others_wait = !p->runq.empty() || global_.size() > 0 || p->timers.next_when() <= now;
      // Goroutines a poll queued without waking an M (run_polled) wait behind one that has
      // run for a while: let an idle P take them.
      if (others_wait && now - p->sysmon_schedwhen >= kQueueWaitNs && idle_.idle_p_count() > 0 &&
          idle_.spinning_m_count() == 0) {
        idle_.wake_p();
      }
      if (state == PState::kRunning && others_wait && now - p->sysmon_schedwhen >= kLongRunNs &&
          p->status.compare_exchange_strong(word, kPStatusIdle)) {
        p->m = nullptr;
        p->sysmon_schedwhen = now;
        preemptions_.fetch_add(1, std::memory_order_relaxed);
        idle_.hand_off_p(p);
        ++taken;
      }
    }
  }
  return taken;
}

void check_not_in_blocking(const Goroutine* g, const char* call, WaitReason reason) {
  if (__builtin_expect(g->status.load(std::memory_order_relaxed) != GStatus::kSyscall, 1)) return;
  std::string what = call;
  if (reason != WaitReason::kNone) what += std::string(" (") + to_string(reason) + ")";
  SPINDLE_FATAL("goroutine " + std::to_string(g->id) + ": " + what +
                " inside blocking() (a blocking call must not park, yield or nest blocking())");
}

void Scheduler::enter_blocking() {
  Machine* m = this_m();
  Goroutine* g = current("blocking");
  check_not_in_blocking(g, "blocking()");
  g->status.store(GStatus::kSyscall, std::memory_order_relaxed);
  Processor* p = m->p;
  if (p == nullptr) return;
  p->syscalltick.fetch_add(1, std::memory_order_relaxed);
  uint32_t running = pstatus_word(m->id, PState::kRunning);
  if (!p->status.compare_exchange_strong(running, pstatus_word(m->id, PState::kSyscall))) {
    m->p = nullptr;  // already taken by sysmon
  }
}

void Scheduler::exit_blocking() {
  Machine* m = this_m();
  Goroutine* g = m->curg;
  if (Processor* p = m->p) {
    uint32_t in_call = pstatus_word(m->id, PState::kSyscall);
    if (p->status.compare_exchange_strong(in_call, pstatus_word(m->id, PState::kRunning))) {
      g->status.store(GStatus::kRunning, std::memory_order_relaxed);
      return;  // fast path: nobody took the P
    }
    m->p = nullptr;
  }
  if (idle_.take_p(m)) {
    m->p->status.store(pstatus_word(m->id, PState::kRunning), std::memory_order_release);
    g->status.store(GStatus::kRunning, std::memory_order_relaxed);
    return;
  }
  // No P: queue the goroutine; this M parks in the scheduler loop.
  m->switch_to_g0(g, AfterSwitch::kExitBlocking);
}

void enter_blocking() { Scheduler::get()->enter_blocking(); }
void exit_blocking() { Scheduler::get()->exit_blocking(); }

}  // namespace spindle::runtime
