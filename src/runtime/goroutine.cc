#include "runtime/goroutine.h"

namespace spindle::runtime {

const char* to_string(WaitReason r) {
  switch (r) {
    case WaitReason::kNone:
      return "";
    case WaitReason::kChanReceive:
      return "chan receive";
    case WaitReason::kChanSend:
      return "chan send";
    case WaitReason::kChanReceiveNilChan:
      return "chan receive (nil chan)";
    case WaitReason::kChanSendNilChan:
      return "chan send (nil chan)";
    case WaitReason::kSelect:
      return "select";
    case WaitReason::kSelectNoCases:
      return "select (no cases)";
    case WaitReason::kSyncMutexLock:
      return "sync.Mutex.Lock";
    case WaitReason::kSyncRWMutexLock:
      return "sync.RWMutex.Lock";
    case WaitReason::kSyncWaitGroupWait:
      return "sync.WaitGroup.Wait";
    case WaitReason::kSyncCondWait:
      return "sync.Cond.Wait";
    case WaitReason::kSemacquire:
      return "semacquire";
    case WaitReason::kSleep:
      return "sleep";
    case WaitReason::kIOWait:
      return "IO wait";
    case WaitReason::kTimerGoroutineIdle:
      return "timer goroutine (idle)";
    case WaitReason::kPreempted:
      return "preempted";
    case WaitReason::kRunWait:
      return "run wait";
  }
  return "unknown";
}

const char* to_string(GStatus s) {
  switch (s) {
    case GStatus::kIdle:
      return "idle";
    case GStatus::kRunnable:
      return "runnable";
    case GStatus::kRunning:
      return "running";
    case GStatus::kWaiting:
      return "waiting";
    case GStatus::kSyscall:
      return "syscall";
    case GStatus::kDead:
      return "dead";
  }
  return "unknown";
}

}  // namespace spindle::runtime
