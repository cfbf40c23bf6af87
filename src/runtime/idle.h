// Idle: the idle Ps and Ms, the spinning Ms, and every transition between them (Go's
// "Worker thread parking/unparking" in proc.go). Every point where an M starts, starts or
// stops spinning, or stops is a function here, and so is every hand-over of a P to another M.
// Part of the Scheduler (scheduler_internal.h); its lists are guarded by the scheduler lock.
//
// Worker thread parking/unparking (the spinning protocol). We must keep enough Ms running to
// use the available Ps but not so many that they burn CPU; an idle runtime must use no CPU;
// and work must never be stranded. A spinning M holds a P and is looking for work to steal
// (Machine::spinning); spinning_m_count_ counts them (Go's sched.nmspinning) and never goes
// negative (checked).
//   1. New work (go, ready, a poll's batch) calls wake_p: if a P is idle and no M is spinning,
//      it CASes spinning_m_count_ from 0 to 1 and starts an M in spinning state on an idle P
//      (start_m: an idle M from the futex-parked list, or a new thread). If an M is already
//      spinning, that M will find the work and nobody else is woken: each wake-up costs
//      40-80 us of another core here.
//   2. An M whose P has nothing local becomes spinning (start_spinning) only while spinning
//      Ms are fewer than half the busy Ps (spinning_allowed). A spinning M that finds work
//      stops spinning and calls wake_p again (found_work): the last spinning M to find work
//      starts a replacement, so work arriving in bursts gets Ps one at a time.
//   3. A spinning M that finds nothing (Machine::drop_p_and_recheck, then
//      stop_spinning_and_recheck): (a) releases its P to the idle list, (b) decrements
//      spinning_m_count_, (c) checks the global queue and every P's local queue again, taking
//      an idle P back (and spinning again) if work appeared. (b) before (c): with (c) first,
//      work submitted between (c) and (b) would see a spinning M in step 1, wake nobody, and
//      wait for some unrelated event. The decrement is a seq_cst read-modify-write, so the
//      loads of (c) come after it (the StoreLoad the order needs). Its partner is step 1:
//      the submitter publishes the work, then loads the counts in wake_p. For the global
//      queue the scheduler lock orders the two sides (the recheck reads the queue under it).
//      A local queue is pushed only by its own P's M, which runs that queue itself next; a
//      wake-up missed there costs parallelism, not progress (sysmon wakes an idle P for a
//      queue that waits 1 ms behind a long runner: sysmon.cc, retake), as in Go.
//   4. An M with nothing to do parks on its Note, a futex word (stop_m); start_m hands it a P
//      through `nextp` and wakes it. Ms are created lazily, never exit before the runtime, and
//      are reused.
//   5. When the last running M parks while a Runtime::run main goroutine is alive and nothing
//      is runnable, every goroutine is blocked forever: "fatal error: all goroutines are asleep
//      - deadlock!" (Scheduler::check_dead, as Go prints it). Armed timers, goroutines waiting
//      in the netpoller, an M blocked in the poller and Ms in blocking calls all count as
//      "someone may still wake them".
// An idle runtime therefore has every M parked in futex_wait and uses no CPU (tested).
//
// Locked goroutines (lock_os_thread): a locked M runs only its goroutine. When that goroutine
// blocks, the M hands its P off and sleeps (stop_locked_m); whoever later finds the goroutine
// in a run queue hands its own P to the locked M and stops itself (start_locked_m).
#pragma once

#include <atomic>

#include "base/check.h"
#include "runtime/goroutine.h"
#include "runtime/machine.h"
#include "runtime/processor.h"
#include "runtime/trace.h"

namespace spindle::runtime {

class Scheduler;

class Idle {
 public:
  // The part under the scheduler lock.
  struct Locked {
    Processor* idle_p = nullptr;  // Go's sched.pidle, linked through Processor::idle_next
    Machine* idle_m = nullptr;    // sched.midle, linked through Machine::idle_next
    int idle_m_count = 0;         // sched.nmidle
    int idle_locked_m_count = 0;  // sched.nmidlelocked: locked Ms asleep in stop_locked_m
  };

  explicit Idle(Scheduler& s) : s_(s) {}
  Idle(const Idle&) = delete;
  Idle& operator=(const Idle&) = delete;

  // Step 1: new work was queued. Any thread.
  void wake_p() {
    if (idle_p_count_.load() == 0) return;
    int expected = 0;
    if (spinning_m_count_.load() != 0 || !spinning_m_count_.compare_exchange_strong(expected, 1)) {
      return;
    }
    start_m(nullptr, true);
  }

  // Step 2: whether an M that is not spinning may start, out of `procs` Ps.
  bool spinning_allowed(int procs) const {
    return 2 * spinning_m_count_.load() < procs - idle_p_count_.load();
  }
  // M m (holding a P) starts or stops looking for work to steal. On m's own thread.
  void start_spinning(Machine* m) {
    m->spinning = true;
    spinning_m_count_.fetch_add(1);
    trace::event(trace::EventType::kSpinStart, 0);
  }
  void stop_spinning(Machine* m) {
    m->spinning = false;
    int was = spinning_m_count_.fetch_sub(1);
    SPINDLE_CHECK(was > 0, "negative spinning M count");
    trace::event(trace::EventType::kSpinStop, 0);
  }
  // Step 2: spinning M m found work.
  void found_work(Machine* m) {
    stop_spinning(m);
    wake_p();  // the last spinning M to find work starts another (wake_p does nothing otherwise)
  }
  // Step 3, after m released its P while spinning. True when work turned up: then *g is a
  // goroutine from the global queue (m holds a P again and spins), or null when some P's
  // local queue has work (m took an idle P if one was left, and spins): look again. False:
  // nothing anywhere, m has no P and does not spin.
  bool stop_spinning_and_recheck(Machine* m, Goroutine** g);

  // Starts an M (idle or new) to run P `p`, or an idle P when p is null. `spinning`: the caller
  // incremented spinning_m_count_ on the new M's behalf; undone when there is no idle P.
  void start_m(Processor* p, bool spinning);
  // Step 4: parks M m (no P, not spinning) until start_m hands it a P, or the runtime stops
  // (then m->p stays null).
  void stop_m(Machine* m);
  // An M without a P (lost to sysmon, back from a blocking call or the poller) takes an idle
  // one if any.
  bool take_p(Machine* m);
  // Gives up P `p` from an M that is about to block or sleep, or that sysmon took it from
  // (Go's handoffp): start another M on it if it has work, else put it on the idle list.
  void hand_off_p(Processor* p);

  // Locked goroutines. M m found goroutine g, which is locked to another M: hands m's P to
  // g's M and parks until given a P again.
  void start_locked_m(Machine* m, Goroutine* g);
  // Locked M m's goroutine blocked: hand the P off and sleep until start_locked_m brings the
  // goroutine back (then m->next_g is set and m holds a P).
  void stop_locked_m(Machine* m);

  // The idle P list. The caller holds the scheduler lock.
  Processor* p_get(Locked& l) {
    Processor* p = l.idle_p;
    if (p != nullptr) {
      l.idle_p = p->idle_next;
      p->idle_next = nullptr;
      idle_p_count_.fetch_sub(1);
    }
    return p;
  }
  void p_put(Locked& l, Processor* p) {
    SPINDLE_DCHECK(p->runq.empty(), "idling a P with work");
    p->idle_next = l.idle_p;
    l.idle_p = p;
    idle_p_count_.fetch_add(1);
  }

  // Go's sched.npidle and sched.nmspinning. Any thread, no lock; the protocols above say
  // which reads must be seq_cst.
  int idle_p_count(std::memory_order order = std::memory_order_seq_cst) const {
    return idle_p_count_.load(order);
  }
  int spinning_m_count() const { return spinning_m_count_.load(); }

 private:
  Machine* m_get(Locked& l);

  Scheduler& s_;
  std::atomic<int> idle_p_count_{0};
  std::atomic<int> spinning_m_count_{0};
};

}  // namespace spindle::runtime
