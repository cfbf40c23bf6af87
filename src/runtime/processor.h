// Processor (P): the right to run goroutines. A Machine (thread) must hold a P to run Go code;
// there are exactly Options::procs of them. Each owns a local run queue, a timer heap, and a
// cache of free goroutines and of stacks. Which M holds it is the handshake below.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/goroutine_cache.h"
#include "runtime/run_queue.h"
#include "runtime/timer.h"

namespace spindle::runtime {

struct Goroutine;
class Machine;

// What a P is doing. Together with its owner in Processor::status (pstatus_word), it is the
// handshake between an M and sysmon: sysmon may take a P away (CAS to idle) only in the states
// marked revocable; an M claims its P (kRunning -> kBusy) before touching it.
//
// Who may write a P's run queue (ring and runnext), goroutine cache and schedtick: only the M
// whose id is in the status word, and only while the word says kBusy under that id (on g0,
// where it stays kBusy; from goroutine code inside a PUse claim or switch_to_g0's
// claim_for_g0). Thieves only take from the head by CAS. sysmon's retake CASes the word from
// exactly (owner, kRunning) or (owner, kSyscall) to idle, so it can never take a P that is
// being written; the CAS happens-after the owner's last release store of kRunning, and the
// new owner gets the P through the scheduler lock or a futex note, so it sees every push the
// old owner made.
// A goroutine whose P sysmon retook for running 10 ms (sysmon.cc) is not stopped, unlike
// Go's: it keeps running on its own M with no P, the M's `p` stale until its next runtime
// call. That call's claim finds the word no longer (own id, kRunning), clears the M's `p` and
// does without a P: go() and ready() queue globally (inject), a timer goes to P 0's heap, and
// its next park, yield or exit (claim_for_g0) puts it back through the global queue. The long
// runner therefore never writes the P it lost. Tested by
// SysmonHandOff.GoroutinesSpawnedAcrossTheHandOffAllRunOnce (sysmon_test.cc).
enum class PState : uint32_t {
  kIdle = 0,     // on the idle list, or being handed over
  kBusy = 1,     // its M runs scheduler code on it (g0, or a runtime call): not revocable
  kRunning = 2,  // its M runs goroutine code: revocable after 10 ms (a long-running goroutine)
  kSyscall = 3,  // its M is in blocking(): revocable after ~20 us
};

// The owner's id is part of the word so an M that lost its P can never take a new owner's
// state for its own (no ABA between "revoked" and "acquired by another M").
inline uint32_t pstatus_word(int m_id, PState s) {
  return (static_cast<uint32_t>(m_id + 1) << 8) | static_cast<uint32_t>(s);
}
inline PState pstate_of(uint32_t word) { return static_cast<PState>(word & 0xff); }
constexpr uint32_t kPStatusIdle = 0;

struct Processor {
  explicit Processor(int pid) : id(pid) {}

  const int id;
  RunQueue runq;
  std::atomic<uint32_t> status{kPStatusIdle};  // pstatus_word
  // Goroutines run; every 61st looks at the global queue first. Written by the owner only,
  // read by sysmon.
  std::atomic<uint32_t> schedtick{0};
  std::atomic<uint32_t> syscalltick{0};  // blocking calls entered
  TimerHeap timers;
  // When this P last looked at its poller shard while goroutines waited in its queue
  // (Machine::find_local; owner only).
  int64_t busy_poll_ns = 0;

  // sysmon's last observations of this P (sysmon thread only).
  uint32_t sysmon_schedtick = 0;
  int64_t sysmon_schedwhen = 0;
  uint32_t sysmon_syscalltick = 0;
  int64_t sysmon_syscallwhen = 0;

  Machine* m = nullptr;            // the M holding this P, or null when idle
  Processor* idle_next = nullptr;  // link in Idle's P list (under the scheduler lock)

  // Free goroutines, stacks and goroutine ids for this P's spawns (goroutine_cache.h).
  GoroutineCache::Local cache;
};

}  // namespace spindle::runtime
