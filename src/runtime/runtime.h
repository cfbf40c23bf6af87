// The public face of the runtime: a Runtime owns the processors (P) and threads (M) that run
// goroutines (G); go() spawns, yield() is Go's Gosched. Everything here except the Runtime
// constructor, destructor and run() must be called from a goroutine. Design: docs/runtime.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/stats.h"
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
  // SIGQUIT dumps every goroutine to stderr and exits with status 2, as in Go (traceback.h),
  // unless the program had installed a SIGQUIT handler when the Runtime was created. false:
  // leave SIGQUIT to the program.
  bool dump_on_sigquit = true;
};

// A snapshot of the scheduler's state and counters (Go's schedtrace prints the same ones). A
// stats snapshot in the sense of base/stats.h: each() names and describes every field for
// metrics export. The values are read from the scheduler's own state, not copied from stats
// cells.
struct Stats {
  int64_t procs = 0;
  int64_t idle_procs = 0;
  int64_t threads = 0;
  int64_t idle_threads = 0;
  int64_t spinning_threads = 0;
  int64_t global_runq = 0;
  int64_t live_goroutines = 0;
  uint64_t goroutines_created = 0;
  uint64_t steals = 0;
  uint64_t global_takes = 0;
  uint64_t thread_wakeups = 0;
  uint64_t netpoll_polls = 0;
  uint64_t netpoll_events = 0;
  uint64_t handoffs = 0;
  uint64_t preemptions = 0;
  int64_t timers = 0;

  template <class F, class... S>
  static constexpr void each(F&& f, S&&... s) {
    using base::MetricInfo;
    f(MetricInfo{"goroutines", "Goroutines that exist now (running, runnable or parked)."},
      s.live_goroutines...);
    f(MetricInfo{"goroutines_created_total", "Goroutines created."}, s.goroutines_created...);
    f(MetricInfo{"procs", "Processors (GOMAXPROCS)."}, s.procs...);
    f(MetricInfo{"idle_procs", "Processors with nothing to run."}, s.idle_procs...);
    f(MetricInfo{"threads", "Machine threads (Ms) alive."}, s.threads...);
    f(MetricInfo{"idle_threads", "Machine threads parked without a processor."}, s.idle_threads...);
    f(MetricInfo{"spinning_threads", "Machine threads spinning in search of work."},
      s.spinning_threads...);
    f(MetricInfo{"global_run_queue", "Goroutines in the global run queue."}, s.global_runq...);
    f(MetricInfo{"steals_total",
                 "Successful steals of goroutines from another processor's run queue."},
      s.steals...);
    f(MetricInfo{"global_takes_total", "Batches taken from the global run queue."},
      s.global_takes...);
    f(MetricInfo{"thread_wakeups_total", "Parked machine threads woken to run work."},
      s.thread_wakeups...);
    f(MetricInfo{"netpoll_polls_total", "Non-blocking polls of the network poller."},
      s.netpoll_polls...);
    f(MetricInfo{"netpoll_events_total", "Readiness events the network poller handled."},
      s.netpoll_events...);
    f(MetricInfo{"blocking_handoffs_total",
                 "Processors sysmon took from threads stuck in a blocking call."},
      s.handoffs...);
    f(MetricInfo{"sysmon_retakes_total",
                 "Processors sysmon handed off from a goroutine that ran too long."},
      s.preemptions...);
    f(MetricInfo{"timers", "Armed runtime timers (sleeps, deadlines, tickers)."}, s.timers...);
  }
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
  bool sigquit_dump_ = false;
};

// The running runtime's counters, from any goroutine (reading them takes no lock on the
// scheduling path: relaxed loads, the M and P counts under the scheduler's list lock).
Stats current_stats();

// The running runtime's usable bytes per goroutine stack (Options::stack_size, resolved).
size_t current_stack_size();

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
