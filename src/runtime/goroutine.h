// Goroutine (G): a function with its own stack and the scheduler state that travels with it.
// Internal to the runtime; channel, select, sync and netpoll code park and ready goroutines
// through scheduler.h.
#pragma once

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

struct Goroutine {
  uint64_t id = 0;
  Context ctx;  // saved registers while not running
  Stack stack;  // allocated when first run (so 1M queued goroutines cost no stacks)
  base::Task fn;
  std::atomic<GStatus> status{GStatus::kIdle};
  WaitReason wait_reason = WaitReason::kNone;
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
