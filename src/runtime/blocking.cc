// Blocking calls (blocking.h; Go's entersyscall/exitsyscall): the goroutine's side of sysmon's
// handoff. Entering marks the P kSyscall, which sysmon may revoke after a round (sysmon.cc,
// retake); leaving takes the P back if sysmon did not, else an idle P, else queues the
// goroutine and parks the M. docs/runtime.md, "Blocking calls and sysmon", has the reasoning.
#include "runtime/blocking.h"

#include <string>

#include "base/check.h"
#include "runtime/scheduler_internal.h"
#include "runtime/trace.h"

namespace spindle::runtime {

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
  g->wait_since.store(coarse_now_ns(), std::memory_order_relaxed);
  g->status.store(GStatus::kSyscall, std::memory_order_release);
  trace::goroutine_event(trace::EventType::kBlockingEnter, g);
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
      g->status.store(GStatus::kRunning, std::memory_order_release);
      trace::goroutine_event(trace::EventType::kBlockingExit, g,
                             static_cast<uint8_t>(trace::BlockingExit::kKeptP));
      return;  // fast path: nobody took the P
    }
    m->p = nullptr;
  }
  if (idle_.take_p(m)) {
    m->p->status.store(pstatus_word(m->id, PState::kRunning), std::memory_order_release);
    g->status.store(GStatus::kRunning, std::memory_order_release);
    trace::goroutine_event(trace::EventType::kBlockingExit, g,
                           static_cast<uint8_t>(trace::BlockingExit::kOtherP));
    return;
  }
  trace::goroutine_event(trace::EventType::kBlockingExit, g,
                         static_cast<uint8_t>(trace::BlockingExit::kNoP));
  // No P: queue the goroutine; this M parks in the scheduler loop.
  m->switch_to_g0(g, AfterSwitch::kExitBlocking);
}

void enter_blocking() { Scheduler::get()->enter_blocking(); }
void exit_blocking() { Scheduler::get()->exit_blocking(); }

}  // namespace spindle::runtime
