// ScanGate: lets a goroutine dump read the stacks and fields of goroutines that are not running,
// by keeping every goroutine from starting to run (and every dead one from being reused) while
// it reads. Part of the Scheduler (scheduler_internal.h); the dump itself is traceback.cc.
//
// Reading another goroutine's stack while it might run is a data race; Go stops the world for
// it. spindle cannot stop a running goroutine (no preemption, docs/runtime.md "Fairness"), so a
// dump leaves running goroutines alone ("running on other thread; stack unavailable", as Go
// prints for them in a crash) and instead stops goroutines from *starting*:
//
//   1. The dump sets scanning_ (begin), then issues membarrier(PRIVATE_EXPEDITED): every thread
//      of the process executes a full memory barrier before it returns.
//   2. An M that is about to run goroutine g (Machine::execute) stores g's status kRunning, then
//      loads scanning_ (enter_running). If set, it stores kRunnable back and waits until the
//      dump ends, then tries again. An M finishing a dead goroutine (Machine::finish_exit) stores
//      kDead, then loads scanning_ and waits likewise before the goroutine can be reused.
//   3. The dump loads each goroutine's status after the barrier. A store-then-load on each side:
//      either the M's load came after the barrier (it sees scanning_ and waits), or its status
//      store came before it (the barrier made it visible, so the dump sees kRunning and leaves
//      the stack alone). A goroutine the dump sees runnable or waiting therefore cannot run, and
//      a goroutine it sees at all cannot be reused, until the dump ends.
//   4. The dump clears scanning_ (release) and wakes the waiters (end).
//
// The M side costs a compiler barrier and a load of a read-mostly word (a plain mov on x86) on
// each goroutine start and exit: membarrier moves the expensive half of the StoreLoad barrier to
// the rare side (the asymmetric Dekker pattern; Linux's own userspace RCU does the same). The
// status stores are releases and the loads acquires, so TSan sees every field the dump reads
// ordered after its last write (the happens-before the barrier argument gives at run time).
//
// Rejected: a scan bit in the status word (Go's _Gscan) that execute would clear with a CAS: an
// atomic read-modify-write on every goroutine start; stopping all Ps (Go's stopTheWorld): waits
// for every running goroutine to yield, forever for one that never does, and would turn every
// long runner into a retake; reading stacks optimistically and discarding torn reads: still a
// data race, and TSan would be right to report it.
//
// Without membarrier(2) (Linux < 4.14, or a seccomp filter) a dump cannot order itself against
// the Ms: begin() returns false and the dump shows headers only for goroutines other than its
// own.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "runtime/goroutine.h"

namespace spindle::runtime {

class ScanGate {
 public:
  // M side, step 2: g's status has just been stored kRunning (release). Returns once g may run.
  void enter_running(Goroutine* g) {
    std::atomic_signal_fence(std::memory_order_seq_cst);  // the status store stays before the load
    if (__builtin_expect(scanning_.load(std::memory_order_acquire) != 0, 0)) wait_to_run(g);
  }
  // M side, step 2: g's status has just been stored kDead. Returns once g may be reused.
  void enter_dead() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (__builtin_expect(scanning_.load(std::memory_order_acquire) != 0, 0)) wait_scan_end();
  }

  // Dump side. One dump at a time: begin() takes the gate's lock, end() releases it. begin()
  // returns false when the barrier is unavailable (the dump must then read no other goroutine's
  // stack); end() must be called either way. Any thread, including a goroutine's (which is
  // running, so never waits at its own gate).
  bool begin();
  void end();

 private:
  void wait_to_run(Goroutine* g);
  void wait_scan_end();

  std::atomic<uint32_t> scanning_{0};
  std::mutex mu_;  // one dump at a time
};

}  // namespace spindle::runtime
