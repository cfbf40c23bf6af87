// Goroutine (G): a function with its own stack and the scheduler state that travels with it.
// Internal to the runtime; channel, select, sync and netpoll code park and ready goroutines
// through scheduler.h.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

#include "base/task.h"
#include "runtime/context.h"
#include "runtime/stack.h"

namespace spindle::runtime {

class Machine;
struct LabelSetRep;

enum class GStatus : uint32_t {
  kIdle,      // allocated, not yet started or in a free list
  kRunnable,  // in a run queue
  kRunning,   // on an M
  kWaiting,   // parked (channel, lock, timer, I/O)
  kSyscall,   // in a blocking call (blocking())
  kDead,      // finished; in a P's free list
};

// Why a goroutine is parked: goroutine dumps print these like Go's waitReason strings.
enum class WaitReason : uint8_t {
  kNone,
  kChanReceive,
  kChanSend,
  kChanReceiveNilChan,
  kChanSendNilChan,
  kSelect,
  kSelectNoCases,
  kSyncMutexLock,
  kSyncRWMutexLock,
  kSyncWaitGroupWait,
  kSyncCondWait,
  kSemacquire,
  kSleep,
  kIOWait,
  kTimerGoroutineIdle,
  kPreempted,
  kRunWait,  // the main goroutine's caller, waiting in Runtime::run
};
const char* to_string(WaitReason r);
const char* to_string(GStatus s);

// CLOCK_MONOTONIC_COARSE in nanoseconds: a few nanoseconds through the vDSO (no clock read), and
// it ticks every few milliseconds, plenty for the minutes a goroutine dump shows. park() and
// blocking() stamp Goroutine::wait_since with it.
inline int64_t coarse_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Goroutine {
  uint64_t id = 0;
  Context ctx;  // saved registers while not running
  Stack stack;  // allocated when first run (so 1M queued goroutines cost no stacks)
  base::Task fn;
  // Every store is a release, so a goroutine dump that loads it (acquire) may read the fields
  // written before it (the scan gate, scan_gate.h).
  std::atomic<GStatus> status{GStatus::kIdle};
  WaitReason wait_reason = WaitReason::kNone;  // set by park(); meaningful while kWaiting
  // When it parked or entered blocking() (coarse_now_ns()); goroutine dumps show the minutes.
  std::atomic<int64_t> wait_since{0};
  // Where go() was called (its return address) and by which goroutine (0: none, e.g. the main
  // goroutine or one the netpoller started): Go's "created by F in goroutine N".
  uintptr_t created_pc = 0;
  uint64_t created_in = 0;
  Goroutine* sched_next = nullptr;  // link in the global run queue and free lists

  // Wake-up parameter, written by the goroutine that readies this one (Go's g.param): for
  // channels, the sudog-like wait entry that completed.
  void* param = nullptr;
  // select: set to 1 by the first case that wins, so only one wakes this goroutine.
  std::atomic<uint32_t> select_done{0};

  // Caught and uncaught C++ exceptions while not running (in the thread while running).
  ExceptionState exceptions;

  Machine* locked_m = nullptr;  // lock_os_thread owner thread, or null
  uint32_t lock_count = 0;      // nesting of lock_os_thread

  // pprof labels (profile/labels.h), one reference held; inherited from the spawner.
  std::atomic<const LabelSetRep*> labels{nullptr};
  // Block and mutex profiles (profile/wait_profile.h): when the current park began and when a
  // waker made the goroutine runnable (now_ns()); 0 unless the park is being timed.
  int64_t blocked_at = 0;
  int64_t unblocked_at = 0;

  void* tsan_fiber = nullptr;       // TSan fiber of this goroutine (TSan builds only)
  void* asan_fake_stack = nullptr;  // ASan fake stack saved across switches (ASan builds)
};

}  // namespace spindle::runtime
