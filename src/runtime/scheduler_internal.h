// Scheduler: the process-wide state shared by all Ps and Ms (Go's `sched` and `allp`). Only
// runtime files include this; the design is at the top of scheduler.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "base/task.h"
#include "base/thread_annotations.h"
#include "base/thread_mutex.h"
#include "runtime/goroutine.h"
#include "runtime/machine.h"
#include "runtime/netpoll_internal.h"
#include "runtime/processor.h"
#include "runtime/race_hook.h"
#include "runtime/runtime.h"

namespace spindle::runtime {

class Scheduler {
 public:
  Scheduler(int procs, size_t stack_size, int netpoll_shards);
  ~Scheduler();

  // The one live scheduler (one Runtime at a time per process), or null.
  static Scheduler* get() { return instance_.load(std::memory_order_acquire); }

  void run_main(base::Task main);
  Goroutine* spawn(base::Task fn);
  // A new goroutine in status kWaiting, for the poller to ready like a parked one (read hooks,
  // netpoll.h). Any thread; takes no P.
  Goroutine* create_waiting(base::Task fn);
  void ready(Goroutine* g, bool next);
  void park(WaitReason reason, UnlockFn unlock, void* arg);
  void yield();
  void lock_os_thread();
  void unlock_os_thread();
  bool can_spin(int iteration);
  // Switches the finished goroutine g (the caller) to g0 for good.
  [[noreturn]] void exit_current(Goroutine* g);

  // Timers (timer.cc) and the netpoller (netpoll.cc).
  void add_timer(RuntimeTimer* t);
  Netpoll& netpoll() { return *netpoll_; }
  // Blocking calls (sysmon.cc).
  void enter_blocking();
  void exit_blocking();

  int procs() const { return static_cast<int>(allp_.size()); }
  Stats stats() const;
  int64_t live_goroutines() const { return live_.load(std::memory_order_acquire); }

 private:
  friend void machine_main(Scheduler* s, Machine* m);
  friend class PUse;

  // Scheduling loop, on g0 of each M.
  void schedule(Machine* m);
  Goroutine* find_runnable(Machine* m);
  Goroutine* find_local(Machine* m);
  Goroutine* drop_p_and_recheck(Machine* m);
  Goroutine* steal_work(Processor* p);
  void execute(Machine* m, Goroutine* g);
  Goroutine* after_switch(Machine* m, Goroutine* g);
  void switch_to_g0(Machine* m, Goroutine* g, AfterSwitch after);
  void reset_spinning(Machine* m);
  bool claim_for_g0(Machine* m);
  bool take_idle_p(Machine* m);

  // Timers and netpoll in the scheduling loop.
  void run_timers(Processor* p, int64_t now);
  void run_all_timers(int64_t now);
  int64_t nearest_timer() const;
  bool any_timers() const;
  Goroutine* poll_shard_into(Processor* p, int shard);
  Goroutine* run_polled(Processor* p, GList& list);
  void inject_list(GList& list);
  Goroutine* block_in_poller(Machine* m);
  void make_runnable(Goroutine* g);

  // sysmon (sysmon.cc).
  void sysmon_main();
  int retake(int64_t now);

  // Run queues.
  void runq_put(Processor* p, Goroutine* g, bool next);
  bool runq_put_slow(Processor* p, Goroutine* g);
  void global_put(Goroutine* g) REQUIRES(mu_);
  Goroutine* global_get(Processor* p, uint32_t max) REQUIRES(mu_);
  void inject(Goroutine* g);

  // Ps and Ms.
  void wake_p();
  void start_m(Processor* p, bool spinning);
  void stop_m(Machine* m);
  void hand_off_p(Processor* p);
  void start_locked_m(Machine* m, Goroutine* g);
  void stop_locked_m(Machine* m);
  void acquire_p(Machine* m, Processor* p);
  Processor* release_p(Machine* m);
  Processor* idle_p_get() REQUIRES(mu_);
  void idle_p_put(Processor* p) REQUIRES(mu_);
  Machine* idle_m_get() REQUIRES(mu_);
  Machine* new_m(Processor* p, bool spinning) REQUIRES(mu_);
  void check_dead() REQUIRES(mu_);

  // Goroutine allocation.
  Goroutine* g_get(Processor* p);
  void g_put(Processor* p, Goroutine* g);
  uint64_t next_goid(Processor* p);
  void init_goroutine(Goroutine* g, uint64_t id, base::Task fn);
  Stack stack_get(Processor* p);
  void stack_put(Processor* p, Stack s);
  void global_stack_put(Stack s) REQUIRES(mu_);

  static std::atomic<Scheduler*> instance_;
  static constexpr size_t kStackCacheBatch = 16;
  // Goroutines a poll must queue (beyond the one the polling M runs) to wake another M.
  static constexpr int kWakeBatch = 3;
  static constexpr size_t kGlobalStackCacheMax = 1024;

  const size_t stack_size_;
  std::vector<std::unique_ptr<Processor>> allp_;
  std::vector<uint32_t> coprimes_;  // of allp_.size(): random stealing order

  base::ThreadMutex allg_mu_;
  std::vector<Goroutine*> allg_ GUARDED_BY(allg_mu_);  // every G ever allocated (reused, not freed)

  mutable base::ThreadMutex mu_;  // Go's sched.lock: idle lists, global queue, M list
  std::vector<std::unique_ptr<Machine>> allm_ GUARDED_BY(mu_);
  Processor* idle_p_ GUARDED_BY(mu_) = nullptr;
  Machine* idle_m_ GUARDED_BY(mu_) = nullptr;
  int idle_m_count_ GUARDED_BY(mu_) = 0;
  int idle_locked_m_count_ GUARDED_BY(mu_) = 0;
  std::vector<Stack> global_stacks_ GUARDED_BY(mu_);
  Goroutine* global_head_ GUARDED_BY(mu_) = nullptr;
  Goroutine* global_tail_ GUARDED_BY(mu_) = nullptr;
  Goroutine* global_free_ GUARDED_BY(mu_) = nullptr;
  bool stopping_ GUARDED_BY(mu_) = false;

  std::atomic<int64_t> global_size_{0};  // written under mu_, read racily as a hint
  std::atomic<int> global_free_count_hint_{0};
  std::atomic<int> idle_p_count_{0};      // Go's sched.npidle
  std::atomic<int> spinning_m_count_{0};  // Go's sched.nmspinning
  std::atomic<int> m_count_{0};
  std::atomic<int64_t> live_{0};
  std::atomic<uint64_t> goid_gen_{0};
  std::atomic<uint64_t> created_{0};
  std::atomic<uint64_t> steals_{0};
  std::atomic<uint64_t> global_takes_{0};
  std::atomic<uint64_t> wakeups_{0};
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> handoffs_{0};
  std::atomic<uint64_t> preemptions_{0};

  std::unique_ptr<Netpoll> netpoll_;
  std::atomic<bool> poller_blocked_{false};  // an M is blocked in Netpoll::poll_blocking
  std::atomic<int64_t> poll_until_{0};       // its wake-up time; 0 while unknown
  std::atomic<int64_t> last_poll_ns_{0};

  std::thread sysmon_;
  void wake_sysmon();
  Note sysmon_note_;
  std::atomic<bool> sysmon_sleeping_{false};

  // Runtime::run's wait for its main goroutine.
  std::mutex main_mu_;
  std::condition_variable main_cv_;
  std::atomic<int> main_active_{0};  // run() main goroutines alive (deadlock detection needs > 0)
};

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
