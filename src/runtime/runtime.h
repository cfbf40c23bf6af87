// The public face of the runtime: a Runtime owns the processors (P) and threads (M) that run
// goroutines (G); go() spawns, yield() is Go's Gosched. Everything here except the Runtime
// constructor, destructor and run() must be called from a goroutine. Design: docs/runtime.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/task.h"

namespace spindle::runtime {

struct Options {
  // Number of processors (Go's GOMAXPROCS). 0: the SPINDLE_MAXPROCS environment variable if
  // set, else the CPUs usable by the process (affinity mask and cgroup v2 cpu.max quota).
  int procs = 0;
  // Usable bytes per goroutine stack, plus a 64 KiB guard below. Only touched pages count
  // toward RSS. 0: SPINDLE_STACK_SIZE if set, else kDefaultStackSize.
  size_t stack_size = 0;
  static constexpr size_t kDefaultStackSize = 256 * 1024;
  // Epoll instances of the netpoller. 0: SPINDLE_NETPOLL ("shared" = 1, Go's design;
  // "sharded" = one per processor; a number = that many; unset = "auto": one per processor
  // from kMinProcsToShard processors up, else one — with one instance the blocking poll gets
  // its events in one system call, with several it needs two, see docs/runtime.md).
  int netpoll_shards = 0;
  static constexpr int kMinProcsToShard = 8;
};

// Counters kept by the scheduler (Go's schedtrace prints the same ones).
struct Stats {
  int procs = 0;             // gomaxprocs
  int idle_procs = 0;        // idleprocs
  int threads = 0;           // threads: Ms created and still alive
  int idle_threads = 0;      // idlethreads: Ms parked with no P
  int spinning_threads = 0;  // spinningthreads
  int64_t global_runq = 0;   // runqueue: goroutines in the global run queue
  int64_t live_goroutines = 0;
  uint64_t goroutines_created = 0;
  uint64_t steals = 0;        // successful steals of at least one goroutine
  uint64_t global_takes = 0;  // batches taken from the global run queue
  uint64_t thread_wakeups = 0;
  uint64_t netpoll_polls = 0;   // epoll_wait calls that did not block
  uint64_t netpoll_events = 0;  // readiness events processed
  uint64_t handoffs = 0;        // Ps taken from blocking calls by sysmon
  uint64_t preemptions = 0;     // long-running goroutines whose P sysmon handed off
  int64_t timers = 0;           // armed runtime timers
};

class Runtime {
 public:
  explicit Runtime(Options options = {});
  // Stops every M and frees stacks. Goroutines still parked are abandoned without unwinding.
  // Called from outside the runtime (not from a goroutine).
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs `main` as a goroutine and blocks the calling thread (which must not be a goroutine)
  // until it returns. Goroutines it started may outlive it; they keep running until ~Runtime.
  void run(base::Task main);

  int procs() const;
  Stats stats() const;
  // Live goroutines other than the ones blocked in run(): the test fixture's leak check.
  int64_t live_goroutines() const;

 private:
  class Scheduler* sched_;
};

// The running runtime's counters, from any goroutine (reading them takes no lock on the
// scheduling path: relaxed loads, the M and P counts under the scheduler's list lock).
Stats current_stats();

// The processor count Options{} would resolve to (affinity, cgroup quota, SPINDLE_MAXPROCS).
int default_procs();

// Spawns fn as a new goroutine, placed in the caller's runnext slot like Go's `go`.
void go(base::Task fn);
// Puts the caller on the global run queue and runs something else (runtime.Gosched).
void yield();
// Wires the calling goroutine to its current thread: it runs only there and the thread runs
// nothing else until unlock_os_thread (runtime.LockOSThread). Calls nest.
void lock_os_thread();
void unlock_os_thread();
// Id of the calling goroutine (1 is the first goroutine of the process); 0 outside goroutines.
uint64_t goroutine_id();
bool in_goroutine();

}  // namespace spindle::runtime
