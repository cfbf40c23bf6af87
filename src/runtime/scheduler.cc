// Goroutine scheduler.
//
// The scheduler's job is to distribute ready-to-run goroutines over worker threads, the same
// way Go's runtime does (src/runtime/proc.go); names and protocols follow it.
//
// Files: this one (the scheduling loop, worker parking, switching, locked goroutines);
// scheduler_poll.cc (the netpoller and timers in the loop); goroutine_alloc.cc (goroutine and
// stack allocation, spawn); sysmon.cc (sysmon, blocking calls, fairness); machine.cc (Note).
//
// The main concepts are:
//   G - goroutine (goroutine.h): a function with its own stack.
//   M - machine (machine.h): an OS thread; it runs goroutines while holding a P.
//   P - processor (processor.h): the right to run goroutines; Options::procs of them.
// A P holds a local run queue (run_queue.h: 256-slot ring plus a runnext slot). Goroutines that
// do not fit, yield, or are readied from outside any P go to the global run queue, which is
// guarded by `mu_` and checked first on every 61st schedule so it cannot starve.
//
// Switching. Each M has a scheduler context g0 on its own thread stack. A goroutine that parks,
// yields or exits saves its registers and switches to g0 (switch_to_g0); g0 finishes the
// transition (after_switch: marks it waiting and runs the park's unlock function, or queues
// it, or frees it) and then picks the next goroutine (schedule / find_runnable / execute).
// The unlock function runs after the goroutine's stack is no longer in use, so whoever readies
// it under the same lock can never resume it while it is still running (Go's gopark).
//
// Finding work (find_runnable), in order:
//   1. every 61st tick, one goroutine from the global queue;
//   2. the local queue (runnext first);
//   3. a batch from the global queue;
//   4. stealing: become a spinning M (only while spinning Ms are fewer than half the busy Ps),
//      then up to 4 passes over all other Ps in random order, taking half of a victim's queue;
//      a victim's runnext is taken only on the last pass;
//   5. otherwise give the P back (idle list) and park the M on its futex (stop_m).
//
// Worker thread parking/unparking. We must keep enough Ms running to use the available Ps but
// not so many that they burn CPU, and an idle runtime must use no CPU. The protocol:
//   1. Submitting new work (spawn, ready) calls wake_p: if a P is idle and no M is spinning,
//      it increments spinning_m_count_ from 0 to 1 and starts an M (an idle one, or a new one)
//      in spinning state with an idle P.
//   2. A spinning M that finds work stops spinning (reset_spinning) and calls wake_p again,
//      so there is again a spinning M looking for the rest of the work: the last spinning M
//      that finds work wakes another.
//   3. A spinning M that finds nothing releases its P, then decrements spinning_m_count_, then
//      checks the global queue and every local queue again (a StoreLoad in between: the
//      atomics are sequentially consistent). Had it checked first, work submitted between the
//      check and the decrement would see a spinning M, skip the wake-up, and be stranded.
//   4. An M with nothing to do parks on its Note; start_m hands it a P through `nextp`.
//
// Locked goroutines (lock_os_thread): a locked M runs only its goroutine. When that goroutine
// blocks, the M hands its P off and sleeps (stop_locked_m); whoever later finds the goroutine
// in a run queue hands its own P to the locked M and stops itself (start_locked_m).
//
// Deadlock: when the last running M parks while a Runtime::run main goroutine is alive and
// nothing is runnable, every goroutine is blocked forever: "fatal error: all goroutines are
// asleep - deadlock!" (check_dead), as Go prints it.
//
// Rejected: one global queue with a lock (contends at every switch, see docs/runtime.md);
// direct goroutine-to-goroutine switches without g0 (one switch cheaper, but the park unlock
// would run on the next goroutine's stack and every path would need to know about it);
// a condition variable per M instead of a futex note (same cost, one more lock to reason about).

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <numeric>
#include <string>

#include "base/check.h"
#include "base/spin_lock.h"
#include "runtime/scheduler_internal.h"

#if defined(SPINDLE_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(SPINDLE_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace spindle::runtime {

std::atomic<Scheduler*> Scheduler::instance_{nullptr};

namespace {

thread_local Machine* tls_m = nullptr;

// Coprimes of n: a random start and a random coprime stride visit all Ps in random order.
std::vector<uint32_t> coprimes_of(uint32_t n) {
  std::vector<uint32_t> out;
  for (uint32_t i = 1; i <= n; ++i) {
    if (std::gcd(i, n) == 1) out.push_back(i);
  }
  return out;
}

[[noreturn]] void panic_in_goroutine(Goroutine* g, const char* what) {
  std::fprintf(stderr,
               "panic: %s\n\ngoroutine %llu [running]:\nan exception escaped the goroutine\n", what,
               static_cast<unsigned long long>(g->id));
  std::fflush(stderr);
  std::abort();
}

void goroutine_entry(void* arg);

}  // namespace

Machine* this_m() {
  asm volatile("" ::: "memory");
  return tls_m;
}

// ---------------------------------------------------------------------------------------------
// Stack overflow: a fault in the running goroutine's guard page, reported from the M's
// alternate signal stack.

namespace {

struct sigaction g_old_segv, g_old_bus;

void write_str(const char* s) {
  ssize_t ignored = write(STDERR_FILENO, s, std::strlen(s));
  (void)ignored;
}

void on_fault(int sig, siginfo_t* info, void* ucontext) {
  Machine* m = this_m();
  Goroutine* g = m != nullptr ? m->curg : nullptr;
  if (g != nullptr && g->stack.in_guard(info->si_addr)) {
    char digits[24];
    int n = 0;
    for (uint64_t id = g->id; n == 0 || id != 0; id /= 10) digits[n++] = '0' + id % 10;
    char msg[64] = "fatal error: goroutine ";
    size_t len = std::strlen(msg);
    while (n > 0) msg[len++] = digits[--n];
    msg[len] = '\0';
    write_str(msg);
    write_str(": stack overflow (raise Options::stack_size or SPINDLE_STACK_SIZE)\n");
    signal(SIGABRT, SIG_DFL);
    abort();
  }
  // Not ours: restore the previous handler and return, so the fault repeats into it.
  sigaction(sig, sig == SIGSEGV ? &g_old_segv : &g_old_bus, nullptr);
  (void)ucontext;
}

void install_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_old_segv);
    sigaction(SIGBUS, &sa, &g_old_bus);
  });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Machines

void machine_main(Scheduler* s, Machine* m) {
  tls_m = m;
  m->exceptions = thread_exception_state();
  stack_t ss{};
  ss.ss_size = 64 * 1024;
  m->signal_stack = std::malloc(ss.ss_size);
  ss.ss_sp = m->signal_stack;
  sigaltstack(&ss, nullptr);
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    m->stack_bottom = addr;
    m->stack_size = size;
    pthread_attr_destroy(&attr);
  }
#if defined(SPINDLE_TSAN)
  m->tsan_fiber = __tsan_get_current_fiber();
#endif
  if (m->nextp != nullptr) {
    s->acquire_p(m, m->nextp);
    m->nextp = nullptr;
  }
  s->schedule(m);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  std::free(m->signal_stack);
  tls_m = nullptr;
}

Scheduler::Scheduler(int procs, size_t stack_size, int netpoll_shards)
    : stack_size_(stack_size), netpoll_(std::make_unique<Netpoll>(netpoll_shards)) {
  SPINDLE_CHECK(procs >= 1, "at least one processor");
  Scheduler* expected = nullptr;
  SPINDLE_CHECK(instance_.compare_exchange_strong(expected, this),
                "only one spindle Runtime may exist at a time");
  install_fault_handler();
  base::ThreadMutexLock l(mu_);
  for (int i = 0; i < procs; ++i) allp_.push_back(std::make_unique<Processor>(i));
  for (int i = procs - 1; i >= 0; --i) idle_p_put(allp_[i].get());
  coprimes_ = coprimes_of(static_cast<uint32_t>(procs));
  sysmon_ = std::thread([this] { sysmon_main(); });
}

Scheduler::~Scheduler() {
  shutting_down_.store(true);
  sysmon_note_.wakeup();
  sysmon_.join();
  netpoll_->wake();
  std::vector<Machine*> ms;
  {
    base::ThreadMutexLock l(mu_);
    stopping_ = true;
    for (auto& m : allm_) ms.push_back(m.get());
  }
  for (Machine* m : ms) m->park.wakeup();
  for (Machine* m : ms) {
    netpoll_->wake();  // an M blocked in the poller
    if (m->thread.joinable()) m->thread.join();
  }
  {
    base::ThreadMutexLock l(mu_);
    for (Stack& st : global_stacks_) st.release();
    for (auto& p : allp_) {
      for (Stack& st : p->stack_cache) st.release();
    }
  }
  base::ThreadMutexLock l(allg_mu_);
  for (Goroutine* g : allg_) {
#if defined(SPINDLE_TSAN)
    if (g->tsan_fiber != nullptr) __tsan_destroy_fiber(g->tsan_fiber);
#endif
    g->stack.release();
    delete g;
  }
  instance_.store(nullptr);
}

void Scheduler::acquire_p(Machine* m, Processor* p) {
  SPINDLE_CHECK(m->p == nullptr && p->m == nullptr, "acquiring a P twice");
  m->p = p;
  p->m = m;
  p->status.store(pstatus_word(m->id, PState::kBusy), std::memory_order_release);
}

Processor* Scheduler::release_p(Machine* m) {
  Processor* p = m->p;
  SPINDLE_CHECK(p != nullptr && p->m == m, "releasing a P the M does not hold");
  p->status.store(kPStatusIdle, std::memory_order_release);
  p->m = nullptr;
  m->p = nullptr;
  return p;
}

// An M without a P (lost to sysmon, back from a blocking call) takes an idle one if any.
bool Scheduler::take_idle_p(Machine* m) {
  Processor* p;
  {
    base::ThreadMutexLock l(mu_);
    p = idle_p_get();
  }
  if (p == nullptr) return false;
  acquire_p(m, p);
  wake_sysmon();  // e.g. the poller M taking a P after every P was idle
  return true;
}

// sysmon sleeps until woken once the runtime has been idle for a while: a P going busy wakes
// it (rare: only the first transition after such a sleep pays the futex wake). Every taker of
// an idle P calls this after idle_p_get (take_idle_p, start_m, drop_p_and_recheck). A store
// then a load on each side: the taker decrements idle_p_count_ (seq_cst) then loads
// sysmon_sleeping_ (seq_cst); sysmon stores sysmon_sleeping_ then loads idle_p_count_ (both
// seq_cst), so either sysmon sees the busy P and does not sleep, or we see it asleep.
void Scheduler::wake_sysmon() {
  if (sysmon_sleeping_.load(std::memory_order_seq_cst) && sysmon_sleeping_.exchange(false)) {
    sysmon_note_.wakeup();
  }
}

// A goroutine is switching to g0: turn its P from revocable (kRunning) to busy. False, and
// m->p cleared, when sysmon took the P while the goroutine ran.
bool Scheduler::claim_for_g0(Machine* m) {
  if (m->p == nullptr) return false;
  uint32_t running = pstatus_word(m->id, PState::kRunning);
  if (m->p->status.compare_exchange_strong(running, pstatus_word(m->id, PState::kBusy),
                                           std::memory_order_acq_rel)) {
    return true;
  }
  m->p = nullptr;
  return false;
}

PUse::PUse(Machine* m) : m_(m) {
  if (m == nullptr || m->p == nullptr) return;
  Processor* p = m->p;
  const uint32_t busy = pstatus_word(m->id, PState::kBusy);
  uint32_t cur = p->status.load(std::memory_order_acquire);
  if (cur == busy) {  // on g0, or nested
    p_ = p;
    return;
  }
  if (cur == pstatus_word(m->id, PState::kSyscall)) return;  // inside blocking(): no P use
  if (cur == pstatus_word(m->id, PState::kRunning) &&
      p->status.compare_exchange_strong(cur, busy, std::memory_order_acq_rel)) {
    p_ = p;
    claimed_ = true;
    return;
  }
  m->p = nullptr;  // sysmon handed it to another M
}

PUse::~PUse() {
  if (claimed_) p_->status.store(pstatus_word(m_->id, PState::kRunning), std::memory_order_release);
}

Processor* Scheduler::idle_p_get() {
  Processor* p = idle_p_;
  if (p != nullptr) {
    idle_p_ = p->idle_next;
    p->idle_next = nullptr;
    idle_p_count_.fetch_sub(1);
  }
  return p;
}

void Scheduler::idle_p_put(Processor* p) {
  SPINDLE_DCHECK(p->runq.empty(), "idling a P with work");
  p->idle_next = idle_p_;
  idle_p_ = p;
  idle_p_count_.fetch_add(1);
}

Machine* Scheduler::idle_m_get() {
  Machine* m = idle_m_;
  if (m != nullptr) {
    idle_m_ = m->idle_next;
    m->idle_next = nullptr;
    --idle_m_count_;
  }
  return m;
}

Machine* Scheduler::new_m(Processor* p, bool spinning) {
  auto owned = std::make_unique<Machine>(static_cast<int>(allm_.size()));
  Machine* m = owned.get();
  m->rand_state = (static_cast<uint64_t>(m->id) + 1) * 0x9E3779B97F4A7C15ull;
  m->nextp = p;
  m->spinning = spinning;
  allm_.push_back(std::move(owned));
  m_count_.fetch_add(1);
  m->thread = std::thread(machine_main, this, m);
  return m;
}

// Starts an M (idle or new) to run P `p`, or an idle P when p is null. `spinning`: the caller
// incremented spinning_m_count_ on the new M's behalf; undone when there is no idle P.
void Scheduler::start_m(Processor* p, bool spinning) {
  base::ThreadMutexLock l(mu_);
  if (stopping_) {
    if (spinning) spinning_m_count_.fetch_sub(1);
    if (p != nullptr) idle_p_put(p);
    return;
  }
  if (p == nullptr) {
    p = idle_p_get();
    if (p == nullptr) {
      if (spinning) spinning_m_count_.fetch_sub(1);
      return;
    }
  }
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  wake_sysmon();
  Machine* m = idle_m_get();
  if (m == nullptr) {
    new_m(p, spinning);
    return;
  }
  m->spinning = spinning;
  m->nextp = p;
  m->park.wakeup();
}

// Parks the M until start_m hands it a P (or the runtime stops: then m->p stays null).
void Scheduler::stop_m(Machine* m) {
  SPINDLE_CHECK(m->p == nullptr && !m->spinning, "stopping an M that holds a P or spins");
  {
    base::ThreadMutexLock l(mu_);
    if (stopping_) return;
    m->idle_next = idle_m_;
    idle_m_ = m;
    ++idle_m_count_;
    check_dead();
  }
  m->park.sleep();
  if (m->nextp != nullptr) {
    acquire_p(m, m->nextp);
    m->nextp = nullptr;
  }
}

void Scheduler::wake_p() {
  if (idle_p_count_.load() == 0) return;
  int expected = 0;
  if (spinning_m_count_.load() != 0 || !spinning_m_count_.compare_exchange_strong(expected, 1)) {
    return;
  }
  start_m(nullptr, true);
}

// Gives up P `p` from an M that is about to block or sleep (Go's handoffp): start another M
// on it if it has work, else put it on the idle list.
void Scheduler::hand_off_p(Processor* p) {
  if (!p->runq.empty() || global_size_.load() > 0) {
    start_m(p, false);
    return;
  }
  int expected = 0;
  if (spinning_m_count_.load() + idle_p_count_.load() == 0 &&
      spinning_m_count_.compare_exchange_strong(expected, 1)) {
    start_m(p, true);
    return;
  }
  base::ThreadMutexLock l(mu_);
  if (global_size_.load() > 0) {
    l.unlock();
    start_m(p, false);
    return;
  }
  idle_p_put(p);
}

// Called by an M that found locked goroutine g (locked to another M): hands our P to g's M and
// parks until given a P again.
void Scheduler::start_locked_m(Machine* m, Goroutine* g) {
  Machine* owner = g->locked_m;
  owner->next_g = g;
  owner->nextp = release_p(m);
  {
    // Counted as running from now on, before it wakes, so check_dead never sees a gap.
    base::ThreadMutexLock l(mu_);
    --idle_locked_m_count_;
  }
  owner->park.wakeup();
  stop_m(m);
}

// A locked M whose goroutine blocked: hand the P off and sleep until start_locked_m brings
// the goroutine back (then m->next_g is set and m holds a P).
void Scheduler::stop_locked_m(Machine* m) {
  if (m->p != nullptr) hand_off_p(release_p(m));
  {
    base::ThreadMutexLock l(mu_);
    if (stopping_) return;
    ++idle_locked_m_count_;
    check_dead();
  }
  m->park.sleep();  // start_locked_m took us off idle_locked_m_count_
  if (m->nextp != nullptr) {
    acquire_p(m, m->nextp);
    m->nextp = nullptr;
  }
}

// Every goroutine is blocked and no M can run: Go's checkdead. Only meaningful while a
// Runtime::run main goroutine is alive (after it returns, leftover goroutines are leaks).
void Scheduler::check_dead() {
  if (stopping_ || main_active_.load() == 0) return;
  int running = m_count_.load() - idle_m_count_ - idle_locked_m_count_;
  if (running > 0) return;
  if (global_size_.load() > 0 || live_.load() == 0) return;
  if (netpoll_->waiters() > 0 || any_timers() || poller_blocked_.load()) return;
  for (auto& p : allp_) {
    if (!p->runq.empty()) return;
  }
  base::fatal_raw("all goroutines are asleep - deadlock!");
}

// ---------------------------------------------------------------------------------------------
// Run queues

void Scheduler::runq_put(Processor* p, Goroutine* g, bool next) {
  if (next) {
    g = p->runq.swap_runnext(g);
    if (g == nullptr) return;
  }
  while (!p->runq.push_back(g)) {
    if (runq_put_slow(p, g)) return;
  }
}

// The local ring is full: move half of it, plus g, to the global queue.
bool Scheduler::runq_put_slow(Processor* p, Goroutine* g) {
  Goroutine* batch[RunQueue::kSize / 2 + 1];
  uint32_t n = p->runq.take_half_for_overflow(batch);
  if (n == 0) return false;
  batch[n++] = g;
  base::ThreadMutexLock l(mu_);
  for (uint32_t i = 0; i < n; ++i) global_put(batch[i]);
  return true;
}

void Scheduler::global_put(Goroutine* g) {
  g->sched_next = nullptr;
  if (global_tail_ != nullptr) {
    global_tail_->sched_next = g;
  } else {
    global_head_ = g;
  }
  global_tail_ = g;
  global_size_.fetch_add(1, std::memory_order_relaxed);
}

// Takes a fair share of the global queue (at most `max` when max > 0) for P p: returns one
// and puts the rest on p's local queue, which the caller knows to be empty when max != 1.
Goroutine* Scheduler::global_get(Processor* p, uint32_t max) {
  int64_t size = global_size_.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int64_t n = std::min<int64_t>(size, size / procs() + 1);
  if (max > 0 && n > max) n = max;
  if (n > RunQueue::kSize / 2) n = RunQueue::kSize / 2;
  global_size_.fetch_sub(n, std::memory_order_relaxed);
  global_takes_.fetch_add(1, std::memory_order_relaxed);
  Goroutine* first = nullptr;
  for (int64_t i = 0; i < n; ++i) {
    Goroutine* g = global_head_;
    global_head_ = g->sched_next;
    if (global_head_ == nullptr) global_tail_ = nullptr;
    g->sched_next = nullptr;
    if (first == nullptr) {
      first = g;
    } else {
      SPINDLE_CHECK(p->runq.push_back(g), "no room for a global batch");
    }
  }
  return first;
}

// Makes g runnable from a thread without a P: global queue, then wake a P.
void Scheduler::inject(Goroutine* g) {
  {
    base::ThreadMutexLock l(mu_);
    global_put(g);
  }
  wake_p();
}

// ---------------------------------------------------------------------------------------------
// Scheduling loop

void Scheduler::schedule(Machine* m) {
  for (;;) {
    Goroutine* g = find_runnable(m);
    if (g == nullptr) return;  // the runtime is stopping
    while (g != nullptr) {
      execute(m, g);
      g = after_switch(m, g);
      if (g != nullptr && m->p == nullptr) {  // lost the P: let another M run it
        base::ThreadMutexLock l(mu_);
        global_put(g);
        g = nullptr;
      }
    }
  }
}

void Scheduler::reset_spinning(Machine* m) {
  m->spinning = false;
  int was = spinning_m_count_.fetch_sub(1);
  SPINDLE_CHECK(was > 0, "negative spinning M count");
  wake_p();  // the last spinning M to find work starts another (wake_p does nothing otherwise)
}

Goroutine* Scheduler::steal_work(Processor* p) {
  const auto n = static_cast<uint32_t>(allp_.size());
  // Other Ps' poller shards are worth a look only while some other P is busy running
  // goroutines (and so not polling its shard); when all others are idle, this M is about to
  // block in the poller, which watches every shard anyway: don't spend system calls on it.
  const bool poll = netpoll_->waiters() > 0 && procs() - idle_p_count_.load() > 1;
  for (int pass = 0; pass < 4; ++pass) {
    const bool last = pass == 3;
    uint32_t pos = fastrandn(n);
    const uint32_t stride = coprimes_[fastrandn(static_cast<uint32_t>(coprimes_.size()))];
    for (uint32_t k = 0; k < n; ++k, pos = (pos + stride) % n) {
      Processor* victim = allp_[pos].get();
      if (victim == p) continue;
      if (last || pass == 0) {
        // Expired timers of other Ps are work too (their fns ready goroutines onto our queue).
        int64_t now = victim->timers.next_when() != kNever ? now_ns() : 0;
        if (now != 0 && victim->timers.next_when() <= now) {
          victim->timers.run_expired(now);
          if (Goroutine* g = p->runq.pop()) return g;
        }
      }
      // So are ready sockets in other Ps' poller shards; only on the last pass, as each look
      // is a system call and most find nothing.
      if (last && poll && netpoll_->shards() > 1) {
        if (Goroutine* g = poll_shard_into(p, victim->id % netpoll_->shards())) return g;
      }
      if (Goroutine* g = victim->runq.steal_half_into(p->runq, last)) {
        steals_.fetch_add(1, std::memory_order_relaxed);
        return g;
      }
    }
    if (shutting_down_.load(std::memory_order_relaxed)) return nullptr;
  }
  return nullptr;
}

// Steps 1-3 of find_runnable on the M's P, after its due timers.
Goroutine* Scheduler::find_local(Machine* m) {
  Processor* p = m->p;
  if (int64_t next = p->timers.next_when(); next != kNever) {
    int64_t now = now_ns();
    if (next <= now) p->timers.run_expired(now);
  }
  if (p->schedtick.load(std::memory_order_relaxed) % 61 == 0 &&
      global_size_.load(std::memory_order_relaxed) > 0) {
    base::ThreadMutexLock l(mu_);
    if (Goroutine* g = global_get(p, 1)) return g;
  }
  if (Goroutine* g = p->runq.pop()) return g;
  if (global_size_.load(std::memory_order_relaxed) > 0) {
    base::ThreadMutexLock l(mu_);
    if (Goroutine* g = global_get(p, 0)) return g;
  }
  // Ready sockets of our own shard, unless an M blocked in the poller will see them anyway,
  // or this M is about to become that M (every other P is idle): its blocking poll returns
  // ready sockets just as fast, and a non-blocking look first would cost a system call for
  // nothing whenever none are ready yet (the usual case under light load).
  if (netpoll_->waiters() > 0 && !poller_blocked_.load(std::memory_order_relaxed) &&
      idle_p_count_.load(std::memory_order_relaxed) < procs() - 1) {
    return poll_shard_into(p, p->id % netpoll_->shards());
  }
  return nullptr;
}

// Blocks until it finds a goroutine for M m to run; null when the runtime stops.
Goroutine* Scheduler::find_runnable(Machine* m) {
  if (m->locked_g != nullptr) {
    stop_locked_m(m);
    Goroutine* g = m->next_g;
    m->next_g = nullptr;
    return m->p != nullptr ? g : nullptr;
  }
  for (;;) {
    if (shutting_down_.load(std::memory_order_relaxed)) return nullptr;
    if (m->p == nullptr && !take_idle_p(m)) {
      stop_m(m);
      continue;
    }
    Goroutine* g = find_local(m);
    if (g == nullptr &&
        (m->spinning || 2 * spinning_m_count_.load() < procs() - idle_p_count_.load())) {
      if (!m->spinning) {
        m->spinning = true;
        spinning_m_count_.fetch_add(1);
      }
      g = steal_work(m->p);
    }
    if (g == nullptr) g = drop_p_and_recheck(m);
    if (g == nullptr) continue;  // holds a P again, or none (stopping, lost): look again
    if (m->spinning) reset_spinning(m);
    if (g->locked_m != nullptr && g->locked_m != m) {
      start_locked_m(m, g);
      continue;
    }
    return g;
  }
}

// Step 5 of find_runnable: nothing found, so give the P back and park, or become the M that
// blocks in the poller. Returns a goroutine if one turned up meanwhile (the M then holds a P
// again), else null: look again.
Goroutine* Scheduler::drop_p_and_recheck(Machine* m) {
  Processor* p = m->p;
  {
    base::ThreadMutexLock l(mu_);
    if (Goroutine* g = global_get(p, 0)) return g;
    release_p(m);
    idle_p_put(p);
  }
  if (m->spinning) {
    race_point(RacePoint::kDropPRecheck);
    // Delicate dance (see "Worker thread parking/unparking", step 3): stop spinning first, then
    // look at every source of work again.
    m->spinning = false;
    SPINDLE_CHECK(spinning_m_count_.fetch_sub(1) > 0, "negative spinning M count");
    base::ThreadMutexLock l(mu_);
    if (global_size_.load() > 0) {
      if (Processor* p2 = idle_p_get()) {
        Goroutine* g = global_get(p2, 0);
        l.unlock();
        acquire_p(m, p2);
        wake_sysmon();  // a P going busy, as in take_idle_p: sysmon may have just gone to sleep
        m->spinning = true;
        spinning_m_count_.fetch_add(1);
        return g;
      }
    }
    l.unlock();
    for (auto& victim : allp_) {
      if (victim->runq.empty()) continue;
      if (take_idle_p(m)) {
        m->spinning = true;
        spinning_m_count_.fetch_add(1);
      }
      return nullptr;
    }
  }
  if (netpoll_->waiters() > 0 || any_timers()) {
    race_point(RacePoint::kPollerBlock);
    if (!poller_blocked_.exchange(true)) return block_in_poller(m);
  }
  stop_m(m);
  return nullptr;
}

void Scheduler::execute(Machine* m, Goroutine* g) {
  Processor* p = m->p;
  p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  m->curg = g;
  g->status.store(GStatus::kRunning, std::memory_order_relaxed);
  if (g->ctx.sp == nullptr) {
    if (!g->stack.valid()) g->stack = stack_get(p);
#if defined(SPINDLE_ASAN)
    // A reused stack still carries the poisoning of its previous goroutine's frames.
    __asan_unpoison_memory_region(g->stack.lo(), g->stack.usable());
#endif
    g->ctx = make_context(g->stack.hi(), &goroutine_entry, g);
#if defined(SPINDLE_TSAN)
    g->tsan_fiber = __tsan_create_fiber(0);
#endif
  }
  // From here the P is revocable: sysmon may hand it off if g runs for 10 ms (see PUse).
  p->status.store(pstatus_word(m->id, PState::kRunning), std::memory_order_release);
#if defined(SPINDLE_ASAN)
  __sanitizer_start_switch_fiber(&m->asan_fake_stack, g->stack.lo(), g->stack.usable());
#endif
#if defined(SPINDLE_TSAN)
  __tsan_switch_to_fiber(g->tsan_fiber, 0);
#endif
  enter_exception_state(m->exceptions, g->exceptions);
  spindle_switch_context(&m->g0.sp, g->ctx.sp);
  leave_exception_state(m->exceptions, &g->exceptions);
#if defined(SPINDLE_ASAN)
  __sanitizer_finish_switch_fiber(m->asan_fake_stack, nullptr, nullptr);
#endif
  m->curg = nullptr;
}

// Called on the goroutine's stack: saves it and resumes g0, which then runs after_switch.
// Returns when the goroutine is resumed, possibly on another M: callers re-read this_m().
void Scheduler::switch_to_g0(Machine* m, Goroutine* g, AfterSwitch after) {
  claim_for_g0(m);
  m->after = after;
#if defined(SPINDLE_ASAN)
  __sanitizer_start_switch_fiber(after == AfterSwitch::kExit ? nullptr : &g->asan_fake_stack,
                                 m->stack_bottom, m->stack_size);
#endif
#if defined(SPINDLE_TSAN)
  __tsan_switch_to_fiber(m->tsan_fiber, 0);
#endif
  spindle_switch_context(&g->ctx.sp, m->g0.sp);
#if defined(SPINDLE_ASAN)
  __sanitizer_finish_switch_fiber(g->asan_fake_stack, nullptr, nullptr);
#endif
}

// On g0, right after g switched back: finish its transition. Returns a goroutine to run at
// once (g itself when a park's unlock function declined), or null to schedule. m->p may be
// null here (sysmon took it while g ran, or g returned from a blocking call without one).
Goroutine* Scheduler::after_switch(Machine* m, Goroutine* g) {
  AfterSwitch after = m->after;
  m->after = AfterSwitch::kNone;
  switch (after) {
    case AfterSwitch::kPark: {
      g->status.store(GStatus::kWaiting, std::memory_order_release);
      UnlockFn unlock = m->unlock;
      m->unlock = nullptr;
      if (unlock != nullptr && !unlock(g, m->unlock_arg)) {
        GStatus expected = GStatus::kWaiting;
        if (g->status.compare_exchange_strong(expected, GStatus::kRunnable)) return g;
      }
      return nullptr;
    }
    case AfterSwitch::kYield:
    case AfterSwitch::kExitBlocking: {
      g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      base::ThreadMutexLock l(mu_);
      global_put(g);
      return nullptr;
    }
    case AfterSwitch::kExit: {
      if (m->locked_g == g) m->locked_g = nullptr;
      g->locked_m = nullptr;
      g->lock_count = 0;
      g->status.store(GStatus::kDead, std::memory_order_relaxed);
#if defined(SPINDLE_TSAN)
      __tsan_destroy_fiber(g->tsan_fiber);
      g->tsan_fiber = nullptr;
#endif
      stack_put(m->p, g->stack);
      g->stack = Stack();
      g_put(m->p, g);
      live_.fetch_sub(1, std::memory_order_acq_rel);
      return nullptr;
    }
    case AfterSwitch::kNone:
      break;
  }
  SPINDLE_FATAL("goroutine switched to the scheduler without saying why");
}

void Scheduler::run_main(base::Task main) {
  SPINDLE_CHECK(this_m() == nullptr, "Runtime::run called from a goroutine");
  bool done = false;
  {
    std::lock_guard<std::mutex> l(main_mu_);
    main_active_.fetch_add(1);
  }
  auto* g = new Goroutine();
  {
    base::ThreadMutexLock l(allg_mu_);
    allg_.push_back(g);
  }
  init_goroutine(g, goid_gen_.fetch_add(1) + 1, [this, &main, &done] {
    main();
    main.reset();
    std::lock_guard<std::mutex> l(main_mu_);
    main_active_.fetch_sub(1);
    done = true;
    main_cv_.notify_all();
  });
  inject(g);
  std::unique_lock<std::mutex> l(main_mu_);
  main_cv_.wait(l, [&] { return done; });
}

void Scheduler::ready(Goroutine* g, bool next) {
  make_runnable(g);
  PUse use(this_m());
  if (use.p() != nullptr) {
    runq_put(use.p(), g, next);
    wake_p();
  } else {
    inject(g);
  }
}

void Scheduler::park(WaitReason reason, UnlockFn unlock, void* arg) {
  Machine* m = this_m();
  Goroutine* g = current("park");
  check_not_in_blocking(g, "park", reason);
  g->wait_reason = reason;
  m->unlock = unlock;
  m->unlock_arg = arg;
  switch_to_g0(m, g, AfterSwitch::kPark);
}

void Scheduler::yield() {
  Machine* m = this_m();
  Goroutine* g = current("yield");
  check_not_in_blocking(g, "yield");
  switch_to_g0(m, g, AfterSwitch::kYield);
}

void Scheduler::lock_os_thread() {
  Machine* m = this_m();
  Goroutine* g = current("lock_os_thread");
  ++g->lock_count;
  g->locked_m = m;
  m->locked_g = g;
}

void Scheduler::unlock_os_thread() {
  Machine* m = this_m();
  Goroutine* g = current("unlock_os_thread");
  if (g->lock_count == 0 || --g->lock_count > 0) return;
  g->locked_m = nullptr;
  m->locked_g = nullptr;
}

bool Scheduler::can_spin(int iteration) {
  static const unsigned kCpus = std::thread::hardware_concurrency();
  if (iteration >= 4 || kCpus <= 1) return false;
  if (procs() <= idle_p_count_.load() + spinning_m_count_.load() + 1) return false;
  // A heuristic: reading a P that sysmon may just have taken is harmless (only the M itself
  // writes m->p), so no claim (PUse) is needed.
  Machine* m = this_m();
  Processor* p = m != nullptr ? m->p : nullptr;
  return p != nullptr && p->runq.empty();
}

Stats Scheduler::stats() const {
  Stats s;
  s.procs = procs();
  s.idle_procs = idle_p_count_.load();
  s.spinning_threads = spinning_m_count_.load();
  s.threads = m_count_.load();
  s.global_runq = global_size_.load();
  s.live_goroutines = live_.load();
  s.goroutines_created = created_.load();
  s.steals = steals_.load();
  s.global_takes = global_takes_.load();
  s.thread_wakeups = wakeups_.load();
  s.netpoll_polls = netpoll_->polls();
  s.netpoll_events = netpoll_->events();
  s.handoffs = handoffs_.load();
  s.preemptions = preemptions_.load();
  for (auto& p : allp_) s.timers += static_cast<int64_t>(p->timers.size());
  base::ThreadMutexLock l(mu_);
  s.idle_threads = idle_m_count_;
  return s;
}

namespace {

void goroutine_entry(void* arg) {
#if defined(SPINDLE_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  auto* g = static_cast<Goroutine*>(arg);
  try {
    g->fn();
  } catch (const std::exception& e) {
    panic_in_goroutine(g, e.what());
  } catch (...) {
    panic_in_goroutine(g, "unknown exception");
  }
  g->fn.reset();
  Scheduler::get()->exit_current(g);
}

}  // namespace

void Scheduler::exit_current(Goroutine* g) {
  switch_to_g0(this_m(), g, AfterSwitch::kExit);
  SPINDLE_FATAL("a dead goroutine was resumed");
}

// ---------------------------------------------------------------------------------------------
// scheduler.h

Goroutine* current(const char* what) {
  Machine* m = this_m();
  if (m == nullptr || m->curg == nullptr) {
    SPINDLE_FATAL(std::string(what) +
                  " called from outside a goroutine (start one with Runtime::run or go())");
  }
  return m->curg;
}

void park(WaitReason reason, UnlockFn unlock, void* arg) {
  Scheduler::get()->park(reason, unlock, arg);
}

void ready(Goroutine* g, bool next) { Scheduler::get()->ready(g, next); }

bool can_spin(int iteration) { return Scheduler::get()->can_spin(iteration); }

void spin_pause() {
  for (int i = 0; i < 30; ++i) base::cpu_relax();
}

uint32_t fastrand() {
  // wyrand: per-M state when on an M, else a thread-local seed.
  thread_local uint64_t t_state = reinterpret_cast<uintptr_t>(&t_state) * 0x9E3779B97F4A7C15ull;
  Machine* m = this_m();
  uint64_t& s = m != nullptr ? m->rand_state : t_state;
  s += 0xa0761d6478bd642full;
  __uint128_t r = static_cast<__uint128_t>(s) * (s ^ 0xe7037ed1a0b428dbull);
  return static_cast<uint32_t>((r >> 64) ^ r);
}

uint32_t fastrandn(uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(fastrand()) * n) >> 32);
}

}  // namespace spindle::runtime
