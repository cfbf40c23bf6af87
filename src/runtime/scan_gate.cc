// ScanGate (scan_gate.h): the waiting Ms and the dump's side of the protocol.
#include "runtime/scan_gate.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace spindle::runtime {
namespace {

long membarrier(int cmd) { return syscall(__NR_membarrier, cmd, 0, 0); }

// Step 1's barrier: true once every thread of the process has executed a full memory barrier.
bool process_barrier() {
  static const int cmd = [] {
    const long supported = membarrier(MEMBARRIER_CMD_QUERY);
    if (supported <= 0) return 0;
    if ((supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
        membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0) {
      return static_cast<int>(MEMBARRIER_CMD_PRIVATE_EXPEDITED);  // IPIs: microseconds
    }
    if ((supported & MEMBARRIER_CMD_GLOBAL) != 0) {
      return static_cast<int>(MEMBARRIER_CMD_GLOBAL);  // waits for every CPU to reschedule
    }
    return 0;
  }();
  return cmd != 0 && membarrier(cmd) == 0;
}

}  // namespace

void ScanGate::wait_to_run(Goroutine* g) {
  do {
    g->status.store(GStatus::kRunnable, std::memory_order_release);  // the dump may read it
    wait_scan_end();
    g->status.store(GStatus::kRunning, std::memory_order_release);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } while (scanning_.load(std::memory_order_acquire) != 0);  // the next dump began meanwhile
}

void ScanGate::wait_scan_end() {
  for (uint32_t v = scanning_.load(std::memory_order_acquire); v != 0;
       v = scanning_.load(std::memory_order_acquire)) {
    scanning_.wait(v, std::memory_order_acquire);
  }
}

bool ScanGate::begin() {
  mu_.lock();
  scanning_.store(1, std::memory_order_relaxed);
  return process_barrier();
}

void ScanGate::end() {
  scanning_.store(0, std::memory_order_release);
  scanning_.notify_all();
  mu_.unlock();
}

}  // namespace spindle::runtime
