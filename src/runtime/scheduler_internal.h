// Scheduler: the process-wide state shared by all Ps and Ms (Go's `sched` and `allp`), and
// the parts it is made of. Only runtime files include this; the map of the parts is at the
// top of scheduler.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/task.h"
#include "base/thread_annotations.h"
#include "base/thread_mutex.h"
#include "runtime/global_run_queue.h"
#include "runtime/goroutine.h"
#include "runtime/goroutine_cache.h"
#include "runtime/idle.h"
#include "runtime/machine.h"
#include "runtime/netpoll_internal.h"
#include "runtime/processor.h"
#include "runtime/race_hook.h"
#include "runtime/runtime.h"
#include "runtime/scan_gate.h"
#include "runtime/schedtrace.h"
#include "runtime/sysmon.h"

namespace spindle::runtime {

class Scheduler {
 public:
  Scheduler(int procs, size_t stack_size, int netpoll_shards);
  ~Scheduler();

  // The one live scheduler (one Runtime at a time per process), or null.
  static Scheduler* get() { return instance_.load(std::memory_order_acquire); }

  void run_main(base::Task main);
  // created_pc: the return address of the go() call (goroutine dumps' "created by").
  Goroutine* spawn(base::Task fn, uintptr_t created_pc = 0);
  // A new goroutine in status kWaiting, for the poller to ready like a parked one (read hooks,
  // netpoll.h). Any thread; takes no P.
  Goroutine* create_waiting(base::Task fn);
  void ready(Goroutine* g, bool next);
  void park(WaitReason reason, UnlockFn unlock, void* arg);
  void yield();
  void lock_os_thread();
  void unlock_os_thread();
  bool can_spin(int iteration);

  // Timers (timer.cc) and the netpoller (netpoll.cc).
  void add_timer(RuntimeTimer* t);
  Netpoll& netpoll() { return *netpoll_; }
  // Blocking calls (blocking.cc).
  void enter_blocking();
  void exit_blocking();

  int procs() const { return static_cast<int>(allp_.size()); }
  Stats stats() const;
  int64_t live_goroutines() const { return live_.load(std::memory_order_acquire); }
  // The scheduler trace's lines at time `now` (now_ns()), Go's schedtrace format
  // (schedtrace.cc). Any thread; takes the scheduler lock briefly, stops nobody.
  std::string sched_trace(int64_t now, bool detailed) const;
  const DebugSettings& debug() const { return debug_; }
  // Goroutine dumps (traceback.cc): every goroutine ever allocated (Go's allgs; dead ones
  // included, never freed before the Runtime), and the gate that keeps them still while read.
  std::vector<Goroutine*> all_goroutines() { return cache_.all(); }
  size_t stack_size() const { return cache_.stack_size(); }
  ScanGate& scan_gate() { return scan_gate_; }

 private:
  friend class Idle;
  friend class Machine;
  friend class PUse;
  friend class Sysmon;

  // Timers and netpoll in the scheduling loop (scheduler_poll.cc).
  void run_timers(Processor* p, Processor* into, int64_t now);
  void run_all_timers(Processor* into, int64_t now);
  int64_t nearest_timer() const;
  bool any_timers() const;
  Goroutine* poll_shard_into(Processor* p, int shard);
  Goroutine* run_polled(Processor* p, GList& list);
  void inject_list(GList& list);
  Goroutine* block_in_poller(Machine* m);

  // Where goroutines become runnable. make_runnable is the one place a parked goroutine
  // becomes runnable (ready, a poll's batch); runq_put queues one on P p (the caller's own);
  // inject queues one from a thread without a P.
  void make_runnable(Goroutine* g);
  void runq_put(Processor* p, Goroutine* g, bool next);
  bool runq_put_slow(Processor* p, Goroutine* g);
  void inject(Goroutine* g);
  void init_goroutine(Goroutine* g, uint64_t id, base::Task fn, uintptr_t created_pc = 0,
                      uint64_t created_in = 0, GStatus status = GStatus::kRunnable);

  Machine* new_m(Processor* p, bool spinning) REQUIRES(mu_);
  void check_dead() REQUIRES(mu_);

  static std::atomic<Scheduler*> instance_;
  // Goroutines a poll must queue (beyond the one the polling M runs) to wake another M.
  static constexpr int kWakeBatch = 3;

  // What the scheduler lock guards, by the part that owns it. Each part's functions take their
  // share as an argument, so only a caller holding the lock can name it.
  struct Locked {
    GlobalRunQueue::Locked runq;
    Idle::Locked idle;
    std::vector<std::unique_ptr<Machine>> allm;  // every M, never freed before the Runtime
    bool stopping = false;                       // ~Scheduler: Ms must not park any more
  };

  std::vector<std::unique_ptr<Processor>> allp_;
  std::vector<uint32_t> coprimes_;                         // of allp_.size(): random stealing order
  const DebugSettings debug_ = debug_settings_from_env();  // SPINDLE_DEBUG
  const int64_t start_ns_ = now_ns();                      // the trace's time origin

  mutable base::ThreadMutex mu_;  // Go's sched.lock
  Locked locked_ GUARDED_BY(mu_);
  GoroutineCache cache_;  // its global lists are under mu_ too

  GlobalRunQueue global_;
  Idle idle_;
  std::atomic<int> m_count_{0};
  std::atomic<int64_t> live_{0};
  std::atomic<uint64_t> created_{0};
  std::atomic<uint64_t> steals_{0};
  std::atomic<uint64_t> wakeups_{0};
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> handoffs_{0};
  std::atomic<uint64_t> preemptions_{0};

  std::unique_ptr<Netpoll> netpoll_;
  std::atomic<bool> poller_blocked_{false};  // an M is blocked in Netpoll::poll_blocking
  std::atomic<int64_t> poll_until_{0};       // its wake-up time; 0 while unknown
  std::atomic<int64_t> last_poll_ns_{0};

  Sysmon sysmon_;
  ScanGate scan_gate_;

  // Runtime::run's wait for its main goroutine.
  std::mutex main_mu_;
  std::condition_variable main_cv_;
  std::atomic<int> main_active_{0};  // run() main goroutines alive (deadlock detection needs > 0)
};

// The entry point of every goroutine's stack (scheduler.cc): runs g->fn, then exits.
void goroutine_entry(void* arg);

// Fatal unless g may park (for `reason`), yield or enter blocking() (`call` names which): inside
// blocking() the goroutine's P is in kSyscall, revocable by sysmon and owned by no scheduler code,
// so a switch to g0 there (or a second kSyscall entry) would leave that P with no M to run its
// queue. Go forbids the same (entersyscall is not reentrant, gopark needs a P).
void check_not_in_blocking(const Goroutine* g, const char* call,
                           WaitReason reason = WaitReason::kNone);

// Claims the calling M's P for a runtime call made from goroutine code (kRunning -> kBusy) so
// sysmon cannot take it meanwhile; on g0 the P is already busy. p() is null when the M has no
// P: lost to sysmon (then m->p is cleared) or inside blocking(). Callers then fall back to the
// global queue. See "Fairness" in docs/runtime.md.
class PUse {
 public:
  explicit PUse(Machine* m);
  ~PUse();
  PUse(const PUse&) = delete;
  PUse& operator=(const PUse&) = delete;
  Processor* p() const { return p_; }

 private:
  Machine* m_;
  Processor* p_ = nullptr;
  bool claimed_ = false;
};

}  // namespace spindle::runtime
