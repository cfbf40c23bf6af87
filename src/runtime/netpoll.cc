// Network poller.
//
// A goroutine that would block on a socket parks in poll_wait and holds no thread; readiness
// reported by epoll makes it runnable again. Go's design (netpoll.go, netpoll_epoll.go) with
// one change for scale (golang/go#65064): Go has one epoll instance for the whole
// process, and with many cores and over 1k sockets ready at once, threads polling it
// concurrently spent ~65% of CPU in epoll_wait contending on the instance's lock.
//
// Here:
//   1. fds are sharded over several epoll instances ("shards", one per P from 8 Ps up, else
//      one; SPINDLE_NETPOLL=shared|sharded|N forces it); each fd is registered once, in shard
//      fd % shards (not the opening P's: one accept loop opens every connection), edge-
//      triggered for read and write.
//   2. At most one thread polls a given shard without blocking at a time (`Shard::polling`),
//      and at most half the CPUs poll at all (`max_pollers`): on few cores that is exactly
//      what Go adopted after #65064 (one poller at a time, which also batches events), on many
//      cores shards are polled in parallel instead of funnelled through one thread. Measured
//      on 2 cores: without the cap, 8 Ms each polling their own shard made ~3 mostly empty
//      epoll_wait calls per message and ran at ~0.7x the single instance.
//   3. A P looking for work polls its own shard before stealing, and while stealing it polls
//      victims' shards: readiness is stolen like work, so one busy P is no bottleneck.
//   4. When every P is idle, one M blocks in a root epoll instance that contains every shard's
//      epoll fd plus an eventfd, with the nearest timer as timeout (epoll_pwait2: ns
//      resolution). wake() writes the eventfd (a new earlier timer, shutdown). With a single
//      instance (the default below 8 Ps, runtime.h) the instance is its own root: the
//      blocking poll gets its events in one system call instead of two.
//   5. sysmon polls every shard if nobody has for 10 ms, so readiness is never starved by
//      busy run queues.
//
// Per-fd state (PollDesc) follows Go's pollDesc: per mode an atomic word holding nil, ready,
// wait, or the parked goroutine. The parker announces "wait", parks, and in the park's unlock
// function (on g0, after it is marked waiting) swaps "wait" for itself; readiness that arrived
// in between turned "wait" into "ready", so the swap fails and the goroutine doesn't park.
// Readiness, deadlines and close all go through unblock(), which returns the goroutine to ready.
//
// Close and deadlines vs a waiter (a store then a load on each side). The waiter stores
// "wait" in the mode word, then loads closing and expired; poll_evict stores closing (a
// deadline firing, expired), then loads the mode word in unblock(). With only release/acquire
// the CPU may satisfy each load before its own store is visible (x86's store buffer does), so
// both sides miss each other and the reader parks forever on a closed fd. Every one of these
// four operations is seq_cst: they are then in one total order, and whichever store comes
// first in it is seen by the other side's load. Pairs: poll_wait's CAS to "wait" with
// poll_evict's load in unblock(); poll_evict's (deadline_fired's, poll_set_deadline's) store of
// closing (expired) with poll_wait's loads after the CAS. A close that finds "wait" turns it
// back to nil, so commit_wait fails and the waiter runs again and sees closing.
//
// Deadlines (Go's pollDesc timers, made lazy). A deadline is a time and a timer armed at or
// before it. Moving it later — what a server does on every request (idle, header and write
// timeouts) — only stores the new time: the timer fires early, finds the deadline still ahead
// and re-arms for it (nginx's lazy timers, Go's timerModifiedLater). Only a deadline moved
// earlier moves the timer; clearing one leaves the timer to fire into nothing. So a request
// costs a few stores instead of a heap removal and insertion per deadline change. The firing
// takes the pd's deadline lock; poll_set_deadline, which holds it, never waits for a firing
// (timer_remove, not timer_stop), so they cannot deadlock, and whichever runs second sees the
// other's work. The expired flag is what sockets check before each operation (no clock read).
//
// Readiness tokens and read hooks (netpoll.h). The mode word doubles as nginx's "ready" flag:
// readers clear it before read(2), so a short read proves the socket drained and the next read
// parks without a failing system call. A read hook is a goroutine the poller creates itself
// when read readiness arrives and nobody is parked: arming publishes the hook, then checks the
// token; the poller publishes the token, then takes the hook (a fence between each pair, so at
// least one side sees the other's store and exactly one exchange of the hook wins).
//
// Rejected: one epoll instance with many pollers (the #65064 collapse); a dedicated poller
// thread per shard (a thread hop per event, and wake-up costs of 40-80 us per idle core here);
// io_uring (a different completion model for every socket operation: a later experiment behind
// the same interface, not a prerequisite); level-triggered registration (re-arms every wait).

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "base/check.h"
#include "runtime/netpoll_internal.h"
#include "runtime/race_hook.h"
#include "runtime/scheduler.h"
#include "runtime/scheduler_internal.h"

namespace spindle::runtime {

namespace {

constexpr uintptr_t kPdNil = 0;
constexpr uintptr_t kPdReady = 1;
constexpr uintptr_t kPdWait = 2;
constexpr uint64_t kWakeData = ~uint64_t{0};

// Readiness (ioready) or a deadline / close (!ioready) for one mode: returns the goroutine
// parked there, if any, for the caller to ready (Go's netpollunblock).
Goroutine* unblock(std::atomic<uintptr_t>& gpp, bool ioready) {
  for (;;) {
    // seq_cst: after a close's or a deadline's seq_cst store, see a waiter's "wait" (top).
    uintptr_t old = gpp.load(std::memory_order_seq_cst);
    if (old == kPdReady) return nullptr;
    if (old == kPdNil && !ioready) return nullptr;
    uintptr_t next = ioready ? kPdReady : kPdNil;
    if (gpp.compare_exchange_weak(old, next, std::memory_order_acq_rel)) {
      return old > kPdWait ? reinterpret_cast<Goroutine*>(old) : nullptr;
    }
  }
}

// Park unlock function: commit to waiting unless readiness arrived since we announced it.
bool commit_wait(Goroutine* g, void* arg) {
  auto* gpp = static_cast<std::atomic<uintptr_t>*>(arg);
  uintptr_t expected = kPdWait;
  return gpp->compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(g),
                                      std::memory_order_acq_rel);
}

void ready_if(Goroutine* g) {
  if (g != nullptr) ready(g);
}

// A deadline timer fired: expire the mode if its deadline has passed, else re-arm for the
// deadline (it moved later since the timer was armed: see "Deadlines" above).
template <PollMode kMode>
void deadline_fired(void* arg, uintptr_t) {
  auto* pd = static_cast<PollDesc*>(arg);
  constexpr bool kRead = kMode == PollMode::kRead;
  Goroutine* wake = nullptr;
  {
    base::SpinLockGuard l(pd->deadline_mu);
    const int64_t d = kRead ? pd->r_deadline : pd->w_deadline;
    RuntimeTimer& t = kRead ? pd->rt : pd->wt;
    if (d == kNever) return;
    if (d <= now_ns()) {
      (kRead ? pd->r_expired : pd->w_expired).store(true);
      wake = unblock(kRead ? pd->rg : pd->wg, false);
    } else if (t.heap.load(std::memory_order_acquire) == nullptr) {
      t.when = d;
      timer_start(&t);
    }
  }
  ready_if(wake);
}

Netpoll& netpoll() { return Scheduler::get()->netpoll(); }

}  // namespace

const char* to_string(PollStatus s) {
  switch (s) {
    case PollStatus::kReady:
      return "ready";
    case PollStatus::kTimeout:
      return "i/o timeout";
    case PollStatus::kClosed:
      return "use of closed network connection";
  }
  return "unknown";
}

void GList::push(Goroutine* g) {
  g->sched_next = nullptr;
  if (tail != nullptr) {
    tail->sched_next = g;
  } else {
    head = g;
  }
  tail = g;
  ++size;
}

Goroutine* GList::pop() {
  Goroutine* g = head;
  if (g != nullptr) {
    head = g->sched_next;
    if (head == nullptr) tail = nullptr;
    g->sched_next = nullptr;
    --size;
  }
  return g;
}

// ---------------------------------------------------------------------------------------------
// Netpoll

Netpoll::Netpoll(int shards) {
  max_pollers_ = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  SPINDLE_CHECK(wake_fd_ >= 0, std::string("netpoll init: ") + std::strerror(errno));
  for (int i = 0; i < shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->epfd = epoll_create1(EPOLL_CLOEXEC);
    SPINDLE_CHECK(shard->epfd >= 0, std::string("netpoll shard: ") + std::strerror(errno));
    shards_.push_back(std::move(shard));
  }
  // One instance: the blocking poll waits on it directly (its events come back in one call).
  // Several: on a root instance that holds theirs.
  root_epfd_ = shards == 1 ? shards_[0]->epfd : epoll_create1(EPOLL_CLOEXEC);
  SPINDLE_CHECK(root_epfd_ >= 0, std::string("netpoll root: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeData;
  SPINDLE_CHECK(epoll_ctl(root_epfd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0, "netpoll: eventfd");
  for (int i = 0; shards > 1 && i < shards; ++i) {
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(i);
    SPINDLE_CHECK(epoll_ctl(root_epfd_, EPOLL_CTL_ADD, shards_[i]->epfd, &ev) == 0,
                  "netpoll: shard");
  }
}

Netpoll::~Netpoll() {
  for (auto& s : shards_) ::close(s->epfd);
  if (shards() > 1) ::close(root_epfd_);
  ::close(wake_fd_);
  for (auto& c : chunks_) delete[] c.load();
}

PollDesc* Netpoll::lookup(uint32_t index) const {
  PollDesc* chunk = chunks_[index / kChunk].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : &chunk[index % kChunk];
}

PollDesc* Netpoll::alloc() {
  base::SpinLockGuard l(registry_mu_);
  if (free_ != nullptr) {
    PollDesc* pd = free_;
    free_ = pd->next_free;
    return pd;
  }
  uint32_t index = allocated_++;
  SPINDLE_CHECK(index / kChunk < kMaxChunks, "netpoll: too many file descriptors");
  if (index % kChunk == 0) chunks_[index / kChunk].store(new PollDesc[kChunk]);
  PollDesc* pd = lookup(index);
  pd->index = index;
  return pd;
}

PollDesc* Netpoll::open(int fd, int shard, int* err) {
  PollDesc* pd = alloc();
  pd->fd = fd;
  pd->shard = shard % shards();
  pd->rg.store(kPdNil);
  pd->wg.store(kPdNil);
  pd->closing.store(false);
  pd->r_expired.store(false);
  pd->w_expired.store(false);
  {
    base::SpinLockGuard l(pd->deadline_mu);
    pd->r_deadline = pd->w_deadline = kNever;
    pd->rt.fn = &deadline_fired<PollMode::kRead>;
    pd->wt.fn = &deadline_fired<PollMode::kWrite>;
    pd->rt.arg = pd->wt.arg = pd;
  }
  pd->read_hook.store(nullptr);
  pd->hangup.store(false);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = (uint64_t{pd->seq.load()} << 32) | pd->index;
  if (epoll_ctl(shards_[pd->shard]->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    *err = errno;
    base::SpinLockGuard l(registry_mu_);
    pd->next_free = free_;
    free_ = pd;
    return nullptr;
  }
  return pd;
}

void Netpoll::close(PollDesc* pd) {
  epoll_ctl(shards_[pd->shard]->epfd, EPOLL_CTL_DEL, pd->fd, nullptr);
  pd->seq.fetch_add(1, std::memory_order_acq_rel);
  pd->fd = -1;
  base::SpinLockGuard l(registry_mu_);
  pd->next_free = free_;
  free_ = pd;
}

void Netpoll::process_events(const epoll_event* evs, int n, GList& out) {
  events_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  for (int i = 0; i < n; ++i) {
    const uint64_t data = evs[i].data.u64;
    if (data == kWakeData) continue;  // one instance: wake() is the blocking poller's business
    PollDesc* pd = lookup(static_cast<uint32_t>(data));
    if (pd == nullptr || pd->seq.load(std::memory_order_acquire) != (data >> 32)) continue;
    const uint32_t e = evs[i].events;
    if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) pd->hangup.store(true);
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      if (Goroutine* g = unblock(pd->rg, true)) {
        out.push(g);
      } else {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (pd->read_hook.load(std::memory_order_relaxed) != nullptr) {
          if (PollHook* h = pd->read_hook.exchange(nullptr, std::memory_order_acq_rel)) {
            out.push(hook_goroutine(h));
          }
        }
      }
    }
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
      if (Goroutine* g = unblock(pd->wg, true)) out.push(g);
    }
  }
}

bool Netpoll::poll_shard(int shard, GList& out, bool known_ready) {
  Shard& s = *shards_[shard];
  if (s.polling.load(std::memory_order_relaxed)) return false;
  if (!known_ready && active_pollers_.fetch_add(1, std::memory_order_acq_rel) >= max_pollers_) {
    active_pollers_.fetch_sub(1, std::memory_order_acq_rel);
    return false;
  }
  bool got = !s.polling.exchange(true);
  if (got) {
    epoll_event evs[128];
    int n = epoll_wait(s.epfd, evs, 128, 0);
    polls_.fetch_add(1, std::memory_order_relaxed);
    if (n > 0) process_events(evs, n, out);
    s.polling.store(false, std::memory_order_release);
  }
  if (!known_ready) active_pollers_.fetch_sub(1, std::memory_order_acq_rel);
  return got;
}

void Netpoll::poll_all(GList& out) {
  for (int i = 0; i < shards(); ++i) poll_shard(i, out);
}

void Netpoll::poll_blocking(int64_t timeout_ns, GList& out) {
  epoll_event evs[64];
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    tsp = &ts;
  }
  int n = epoll_pwait2(root_epfd_, evs, 64, tsp, nullptr);
  if (n < 0 && errno == ENOSYS) {
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    n = epoll_wait(root_epfd_, evs, 64, ms);
  }
  for (int i = 0; i < n; ++i) {
    if (evs[i].data.u64 == kWakeData) {
      uint64_t v;
      ssize_t ignored = read(wake_fd_, &v, sizeof v);
      (void)ignored;
      wake_pending_.store(false, std::memory_order_release);
    } else if (shards() > 1) {
      poll_shard(static_cast<int>(evs[i].data.u64), out, /*known_ready=*/true);
    }
  }
  if (shards() == 1 && n > 0) {
    polls_.fetch_add(1, std::memory_order_relaxed);
    process_events(evs, n, out);
  }
}

void Netpoll::wake() {
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;  // one is enough
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

// ---------------------------------------------------------------------------------------------
// netpoll.h

PollDesc* poll_open(int fd, int* err) {
  // Spread by fd number, not by the opening P: one accept loop opens every connection, and
  // putting them all in its P's shard would recreate the single instance.
  Netpoll& np = netpoll();
  return np.open(fd, fd % np.shards(), err);
}

Goroutine* Netpoll::hook_goroutine(PollHook* hook) {
  return Scheduler::get()->create_waiting([this, fn = std::move(hook->fn)]() mutable {
    waiters_.fetch_sub(1, std::memory_order_acq_rel);
    fn();
  });
}

void poll_evict(PollDesc* pd) {
  race_point(RacePoint::kPollEvict, pd);
  // seq_cst, as the loads after it: pairs with poll_wait's CAS to "wait" and its loads of
  // closing, and with poll_arm_read_hook's publication of a hook ("Close and deadlines vs a
  // waiter" at the top).
  pd->closing.store(true, std::memory_order_seq_cst);
  ready_if(unblock(pd->rg, false));
  ready_if(unblock(pd->wg, false));
  // An armed read hook starts too: closing is news for whoever watches the fd (the HTTP
  // server's disconnect watcher cancels the upstream request of a force-closed connection).
  if (pd->read_hook.load(std::memory_order_seq_cst) != nullptr) {
    if (PollHook* h = pd->read_hook.exchange(nullptr, std::memory_order_acq_rel)) {
      ready(netpoll().hook_goroutine(h));
    }
  }
}

void poll_close(PollDesc* pd) {
  poll_evict(pd);
  // Goroutines woken by the eviction may still be reading pd: wait until they have left.
  while (pd->users.load(std::memory_order_acquire) > 0) yield();
  {
    base::SpinLockGuard l(pd->deadline_mu);  // a firing from now on does nothing
    pd->r_deadline = pd->w_deadline = kNever;
  }
  timer_stop(&pd->rt);
  timer_stop(&pd->wt);
  race_point(RacePoint::kPollRecycle, pd);
  netpoll().close(pd);
}

PollStatus poll_wait(PollDesc* pd, PollMode mode) {
  const bool read = mode == PollMode::kRead;
  std::atomic<uintptr_t>& gpp = read ? pd->rg : pd->wg;
  std::atomic<bool>& expired = read ? pd->r_expired : pd->w_expired;
  pd->users.fetch_add(1, std::memory_order_acq_rel);
  struct Leave {
    PollDesc* pd;
    ~Leave() { pd->users.fetch_sub(1, std::memory_order_acq_rel); }
  } leave{pd};
  for (;;) {
    if (pd->closing.load(std::memory_order_acquire)) return PollStatus::kClosed;
    if (expired.load(std::memory_order_acquire)) return PollStatus::kTimeout;
    uintptr_t old = gpp.load(std::memory_order_acquire);
    if (old == kPdReady) {
      if (gpp.compare_exchange_strong(old, kPdNil)) return PollStatus::kReady;
      continue;
    }
    SPINDLE_CHECK(old == kPdNil, "two goroutines wait on one fd in the same direction");
    race_point(RacePoint::kPollWaitAnnounce, pd);
    if (!gpp.compare_exchange_strong(old, kPdWait, std::memory_order_seq_cst)) continue;
    // A close or deadline that happened before the CAS found nobody to wake: look again. The
    // CAS and these loads are seq_cst, pairing with the closer's store and its load in
    // unblock() ("Close and deadlines vs a waiter" at the top).
    if (pd->closing.load(std::memory_order_seq_cst) || expired.load(std::memory_order_seq_cst)) {
      uintptr_t w = kPdWait;
      gpp.compare_exchange_strong(w, kPdNil);
      continue;
    }
    Netpoll& np = netpoll();
    np.waiters_.fetch_add(1, std::memory_order_acq_rel);
    park(WaitReason::kIOWait, commit_wait, &gpp);
    np.waiters_.fetch_sub(1, std::memory_order_acq_rel);
    uintptr_t v = gpp.exchange(kPdNil, std::memory_order_acq_rel);
    SPINDLE_CHECK(v <= kPdWait, "poll descriptor corrupted");
    if (v == kPdReady) return PollStatus::kReady;
  }
}

void poll_consume_ready(PollDesc* pd, PollMode mode) {
  std::atomic<uintptr_t>& gpp = mode == PollMode::kRead ? pd->rg : pd->wg;
  uintptr_t old = kPdReady;
  if (gpp.load(std::memory_order_relaxed) == kPdReady) {
    gpp.compare_exchange_strong(old, kPdNil);
  }
}

bool poll_ready_pending(const PollDesc* pd, PollMode mode) {
  return (mode == PollMode::kRead ? pd->rg : pd->wg).load(std::memory_order_acquire) == kPdReady;
}

// An armed hook counts as a poll waiter: the scheduler polls (and blocks in the poller) only
// while someone waits for readiness. Whoever takes the hook back out uncounts it (the poller:
// the hook's goroutine, once it runs).
bool poll_hangup_seen(const PollDesc* pd) { return pd->hangup.load(); }

bool poll_deadline_expired(const PollDesc* pd, PollMode mode) {
  return (mode == PollMode::kRead ? pd->r_expired : pd->w_expired).load(std::memory_order_acquire);
}

bool poll_arm_read_hook(PollDesc* pd, PollHook* hook) {
  race_point(RacePoint::kReadHookArm, pd);
  Netpoll& np = netpoll();
  np.waiters_.fetch_add(1, std::memory_order_acq_rel);
  PollHook* none = nullptr;
  SPINDLE_CHECK(pd->read_hook.compare_exchange_strong(none, hook), "two read hooks on one fd");
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (pd->rg.load(std::memory_order_relaxed) != kPdReady && !pd->closing.load()) return true;
  // Readiness is already pending (it came before the hook, or just now): unless the poller
  // took the hook meanwhile, the caller starts it.
  if (pd->read_hook.exchange(nullptr, std::memory_order_acq_rel) == nullptr) return true;
  np.waiters_.fetch_sub(1, std::memory_order_acq_rel);
  return false;
}

bool poll_disarm_read_hook(PollDesc* pd) {
  race_point(RacePoint::kReadHookDisarm, pd);
  if (pd->read_hook.exchange(nullptr, std::memory_order_acq_rel) == nullptr) return false;
  netpoll().waiters_.fetch_sub(1, std::memory_order_acq_rel);
  return true;
}

void poll_set_deadline(PollDesc* pd, PollMode mode, base::TimePoint deadline) {
  const bool read = mode == PollMode::kRead;
  RuntimeTimer& t = read ? pd->rt : pd->wt;
  std::atomic<bool>& expired = read ? pd->r_expired : pd->w_expired;
  const int64_t d = deadline == base::TimePoint::max() ? kNever : base::to_ns(deadline);
  Goroutine* wake = nullptr;
  {
    base::SpinLockGuard l(pd->deadline_mu);
    (read ? pd->r_deadline : pd->w_deadline) = d;
    if (d == kNever) {
      expired.store(false);  // an armed timer may stay: it will find nothing to do
    } else if (t.heap.load(std::memory_order_acquire) != nullptr && t.when <= d) {
      // The common case (a deadline moved later): the armed timer fires first and re-arms or
      // expires; no clock read, no heap operation.
      expired.store(false);
    } else if (d <= now_ns()) {
      expired.store(true);
      wake = unblock(read ? pd->rg : pd->wg, false);
    } else {
      expired.store(false);
      // Not armed (or firing right now: the firing then waits for our lock and finds it
      // armed), or armed later than d: the timer moves to d. If timer_remove loses to a
      // firing, that firing re-arms for d under this lock once we release it.
      if (t.heap.load(std::memory_order_acquire) == nullptr || timer_remove(&t)) {
        t.when = d;
        timer_start(&t);
      }
    }
  }
  ready_if(wake);
}

}  // namespace spindle::runtime
