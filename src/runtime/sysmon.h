// Sysmon: the monitor thread with no P (Go's sysmon). It polls the network when nobody has,
// starts an M for overdue timers, and retakes Ps from blocking calls and from goroutines that
// run too long (the 10 ms rule). Part of the Scheduler (scheduler_internal.h); the design is at
// the top of sysmon.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "runtime/note.h"

namespace spindle::runtime {

class Scheduler;

class Sysmon {
 public:
  explicit Sysmon(Scheduler& s) : s_(s) {}
  Sysmon(const Sysmon&) = delete;
  Sysmon& operator=(const Sysmon&) = delete;

  // Starts the thread. stop(), once the scheduler is shutting down, wakes it and joins it.
  void start();
  void stop();

  // sysmon sleeps until woken once the runtime has been idle for a while: a P going busy wakes
  // it (rare: only the first transition after such a sleep pays the futex wake). Every taker
  // of an idle P calls this after Idle::p_get (Idle::take_p, Idle::start_m, and the spinning
  // M's recheck). A store then a load on each side: the taker decrements the idle P count
  // (seq_cst) then loads sleeping_ (seq_cst); sysmon stores sleeping_ then loads the idle P
  // count (both seq_cst, run()), so either sysmon sees the busy P and does not sleep, or we
  // see it asleep.
  // Whether sysmon sleeps until woken (schedtrace's sysmonwait).
  bool sleeping() const { return sleeping_.load(std::memory_order_relaxed); }

  void wake() {
    if (sleeping_.load(std::memory_order_seq_cst) && sleeping_.exchange(false)) note_.wakeup();
  }

 private:
  void run();
  int retake(int64_t now);

  Scheduler& s_;
  std::thread thread_;
  Note note_;
  std::atomic<bool> sleeping_{false};
};

}  // namespace spindle::runtime
