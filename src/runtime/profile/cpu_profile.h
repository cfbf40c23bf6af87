// CPU profiling (Go's runtime/pprof StartCPUProfile, with Go 1.18's per-thread timers): every
// runtime thread (each M and sysmon) gets a POSIX timer on its own CPU-time clock that sends it
// SIGPROF `hz` times per second of CPU it burns. The handler records the interrupted stack (a
// frame-pointer walk bounded by the goroutine's or thread's stack), the goroutine's id and
// labels into that thread's lock-free ring, allocating nothing; the profile's owner drains the
// rings into aggregated samples. Design and limits: docs/observability.md ("CPU profile").
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/profile/labels.h"

namespace spindle::runtime {

// One aggregated CPU sample: `count` interrupts with this stack on this goroutine.
struct CpuSample {
  std::vector<uintptr_t> pcs;  // return addresses, innermost first (the interrupted PC + 1)
  uint64_t goroutine = 0;      // 0: no goroutine was running (scheduler code, sysmon)
  LabelSet labels;
  int64_t count = 0;
};

// At most one at a time per process. Not thread-safe: one owner drives it (the debug handler's
// goroutine).
class CpuProfiler {
 public:
  static constexpr int kDefaultHz = 100;
  // Starts sampling every runtime thread, now and as they start, at hz (1..1000, Go's limit).
  // Null when a profile is already running.
  static std::unique_ptr<CpuProfiler> start(int hz = kDefaultHz);
  ~CpuProfiler();  // stops, if stop() was not called
  CpuProfiler(const CpuProfiler&) = delete;
  CpuProfiler& operator=(const CpuProfiler&) = delete;

  // Moves the samples taken since the last call from the threads' rings into the aggregate.
  // Call it every ~100 ms while profiling: a ring holds 2.5 s of one thread's samples, and
  // samples that do not fit are counted in lost().
  void collect();
  // Stops sampling (disarms every timer), collects the last samples and returns them all.
  std::vector<CpuSample> stop();

  int hz() const { return hz_; }
  // Samples collected so far.
  int64_t samples() const { return samples_; }
  // Samples dropped because a thread's ring was full.
  uint64_t lost() const { return lost_; }

  // The samples collected so far (defined in cpu_profile.cc).
  struct Aggregate;

 private:
  explicit CpuProfiler(int hz);
  const int hz_;
  bool stopped_ = false;
  uint64_t lost_ = 0;
  int64_t samples_ = 0;
  std::unique_ptr<Aggregate> agg_;
};

// Registration of the runtime's threads, each by itself: the M's thread_main and sysmon call
// profiled_thread_start when they start and profiled_thread_exit before they return. While a
// profile runs, a starting thread gets its timer at once.
void profiled_thread_start();
void profiled_thread_exit();

}  // namespace spindle::runtime
