// Netpoll: the scheduler's side of the network poller (epoll backend). Internal to the runtime;
// goroutines use netpoll.h. Design: the comment at the top of netpoll.cc.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/spin_lock.h"
#include "runtime/goroutine.h"
#include "runtime/netpoll.h"
#include "runtime/timer.h"

namespace spindle::runtime {

// An intrusive list of goroutines (through Goroutine::sched_next) readied by a poll.
struct GList {
  Goroutine* head = nullptr;
  Goroutine* tail = nullptr;
  int size = 0;
  void push(Goroutine* g);
  Goroutine* pop();
  bool empty() const { return head == nullptr; }
};

class PollDesc {
 public:
  int fd = -1;
  uint32_t index = 0;            // in Netpoll's registry; epoll data = seq << 32 | index
  std::atomic<uint32_t> seq{0};  // bumped at close: events of an old registration are stale
  int shard = 0;
  // Per mode: kPdNil, kPdReady, kPdWait, or the parked Goroutine* (Go's pollDesc.rg / wg).
  std::atomic<uintptr_t> rg{0}, wg{0};
  std::atomic<bool> closing{false};
  std::atomic<bool> r_expired{false}, w_expired{false};
  std::atomic<int> users{0};                  // goroutines inside poll_wait
  std::atomic<PollHook*> read_hook{nullptr};  // poll_arm_read_hook
  std::atomic<bool> hangup{false};  // EPOLLRDHUP, EPOLLHUP or EPOLLERR seen: poll_hangup_seen
  // Deadlines (ns, kNever: none) and their timers, lazily armed: a timer fires at or before
  // its deadline, and a firing that finds the deadline moved later re-arms (netpoll.cc,
  // "Deadlines"). All under deadline_mu, which is never held while waiting for a timer.
  base::SpinLock deadline_mu;
  int64_t r_deadline GUARDED_BY(deadline_mu) = kNever;
  int64_t w_deadline GUARDED_BY(deadline_mu) = kNever;
  RuntimeTimer rt, wt;
  PollDesc* next_free = nullptr;
};

class Netpoll {
 public:
  // `shards` epoll instances (1 = Go's single shared instance).
  explicit Netpoll(int shards);
  ~Netpoll();

  int shards() const { return static_cast<int>(shards_.size()); }
  PollDesc* open(int fd, int shard, int* err);
  void close(PollDesc* pd);

  // Polls one instance without blocking and appends the goroutines it readies (status still
  // kWaiting) to out. At most one thread polls an instance at a time, and at most
  // max_pollers() threads poll at all (unless `known_ready`): false if it was busy.
  bool poll_shard(int shard, GList& out, bool known_ready = false);
  // Concurrent non-blocking pollers allowed: half the CPUs, at least one. On few cores this is
  // Go's one-poller rule (#65064); on many it lets shards be polled in parallel.
  int max_pollers() const { return max_pollers_; }
  // Polls every instance without blocking (sysmon, the poller on wake-up).
  void poll_all(GList& out);
  // Blocks until an instance has events, wake() is called, or timeout_ns passes (< 0: no
  // timeout), then polls the instances that have events.
  void poll_blocking(int64_t timeout_ns, GList& out);
  // Interrupts poll_blocking (Go's netpollBreak).
  void wake();

  int waiters() const { return waiters_.load(std::memory_order_acquire); }
  uint64_t polls() const { return polls_.load(std::memory_order_relaxed); }
  uint64_t events() const { return events_.load(std::memory_order_relaxed); }

  std::atomic<int> waiters_{0};  // goroutines parked in poll_wait, and armed read hooks

  // The goroutine of a read hook just taken from its PollDesc (status kWaiting). The hook
  // stays counted in waiters_ until the goroutine runs: uncounted earlier, it would be
  // invisible to check_dead while it sits in a polled list (a false "all goroutines are
  // asleep", seen under TSan).
  Goroutine* hook_goroutine(PollHook* hook);

 private:
  struct Shard {
    int epfd = -1;
    std::atomic<bool> polling{false};
  };
  void process_events(const epoll_event* evs, int n, GList& out);
  PollDesc* alloc();

  std::vector<std::unique_ptr<Shard>> shards_;
  int root_epfd_ = -1;  // contains every shard's epfd and the wake-up eventfd
  int wake_fd_ = -1;
  std::atomic<bool> wake_pending_{false};

  // PollDescs are never freed while the runtime lives (an event may still name a closed one),
  // only reused; they live in fixed chunks found by index without a lock.
  static constexpr uint32_t kChunk = 1024;
  static constexpr uint32_t kMaxChunks = 4096;
  PollDesc* lookup(uint32_t index) const;

  base::SpinLock registry_mu_;
  std::atomic<PollDesc*> chunks_[kMaxChunks] = {};
  uint32_t allocated_ GUARDED_BY(registry_mu_) = 0;
  PollDesc* free_ GUARDED_BY(registry_mu_) = nullptr;

  int max_pollers_ = 1;
  std::atomic<int> active_pollers_{0};
  std::atomic<uint64_t> polls_{0};
  std::atomic<uint64_t> events_{0};
};

}  // namespace spindle::runtime
