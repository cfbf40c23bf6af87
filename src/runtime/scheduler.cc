// Goroutine scheduler.
//
// The scheduler's job is to distribute ready-to-run goroutines over worker threads, the same
// way Go's runtime does (src/runtime/proc.go); names and protocols follow it.
//
// The main concepts are:
//   G - goroutine (goroutine.h): a function with its own stack.
//   M - machine (machine.h): an OS thread; it runs goroutines while holding a P.
//   P - processor (processor.h): the right to run goroutines; Options::procs of them.
// A P holds a local run queue (run_queue.h: 256-slot ring plus a runnext slot). Goroutines that
// do not fit, yield, or are readied from outside any P go to the global run queue
// (global_run_queue.h), which a P checks first on every 61st schedule so it cannot starve.
//
// The parts, one concept per file, each with its protocol at the top:
//   Scheduler       this file: the shared state and its lock; go, ready, park, yield,
//                   lock_os_thread; deadlock detection (check_dead)
//   Machine         machine.cc: an M's thread and the scheduling loop (switching, finding work)
//   Idle            idle.h: idle Ps and Ms, spinning Ms (worker thread parking/unparking),
//                   locked Ms
//   GlobalRunQueue  global_run_queue.h: the shared run queue and its fairness rule
//   RunQueue        run_queue.h: a P's lock-free local queue
//   GoroutineCache  goroutine_cache.h: free goroutines, stacks and ids, per P then global
//   Sysmon          sysmon.h: the monitor thread; retaking Ps (fairness for long runners)
//   Note            note.h: the futex word idle Ms sleep on
//   scheduler_poll.cc (the netpoller and timers in the loop) and blocking.cc (blocking calls)
//   are Scheduler functions.
//
// The scheduler lock (mu_, Go's sched.lock) guards the global run queue, the idle lists, the M
// list and the global goroutine and stack lists; the scheduling fast paths (a P's own queue,
// runnext, stealing) take no lock.
//
// Rejected: one global queue with a lock (contends at every switch, see docs/runtime.md);
// a condition variable per M instead of a futex note (same cost, one more lock to reason about).

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
#include "runtime/profile/frames.h"
#include "runtime/profile/labels.h"
#include "runtime/profile/wait_profile.h"
#include "runtime/scheduler_internal.h"
#include "runtime/trace.h"

namespace spindle::runtime {

std::atomic<Scheduler*> Scheduler::instance_{nullptr};

namespace {

// Coprimes of n: a random start and a random coprime stride visit all Ps in random order.
std::vector<uint32_t> coprimes_of(uint32_t n) {
  std::vector<uint32_t> out;
  for (uint32_t i = 1; i <= n; ++i) {
    if (std::gcd(i, n) == 1) out.push_back(i);
  }
  return out;
}

thread_local Machine* tls_m = nullptr;

[[noreturn]] void panic_in_goroutine(Goroutine* g, const char* what) {
  std::fprintf(stderr,
               "panic: %s\n\ngoroutine %llu [running]:\nan exception escaped the goroutine\n", what,
               static_cast<unsigned long long>(g->id));
  std::fflush(stderr);
  std::abort();
}

}  // namespace

Machine* this_m() {
  asm volatile("" ::: "memory");
  return tls_m;
}

void set_this_m(Machine* m) { tls_m = m; }

// Every goroutine starts here, on its own stack (Machine::execute's make_context).
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
  this_m()->switch_to_g0(g, AfterSwitch::kExit);
  SPINDLE_FATAL("a dead goroutine was resumed");
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
// The scheduler's lifetime

Scheduler::Scheduler(int procs, size_t stack_size, int netpoll_shards)
    : cache_(mu_, stack_size),
      global_(procs),
      idle_(*this),
      netpoll_(std::make_unique<Netpoll>(netpoll_shards)),
      sysmon_(*this) {
  SPINDLE_CHECK(procs >= 1, "at least one processor");
  Scheduler* expected = nullptr;
  SPINDLE_CHECK(instance_.compare_exchange_strong(expected, this),
                "only one spindle Runtime may exist at a time");
  install_fault_handler();
  base::ThreadMutexLock l(mu_);
  for (int i = 0; i < procs; ++i) allp_.push_back(std::make_unique<Processor>(i));
  for (int i = procs - 1; i >= 0; --i) idle_.p_put(locked_.idle, allp_[i].get());
  coprimes_ = coprimes_of(static_cast<uint32_t>(procs));
  sysmon_.start();
}

Scheduler::~Scheduler() {
  shutting_down_.store(true);
  sysmon_.stop();
  netpoll_->wake();
  std::vector<Machine*> ms;
  {
    base::ThreadMutexLock l(mu_);
    locked_.stopping = true;
    for (auto& m : locked_.allm) ms.push_back(m.get());
  }
  for (Machine* m : ms) m->park.wakeup();
  for (Machine* m : ms) {
    netpoll_->wake();  // an M blocked in the poller
    if (m->thread.joinable()) m->thread.join();
  }
  std::vector<GoroutineCache::Local*> locals;
  for (auto& p : allp_) locals.push_back(&p->cache);
  cache_.destroy(locals);
  instance_.store(nullptr);
}

Machine* Scheduler::new_m(Processor* p, bool spinning) {
  auto owned = std::make_unique<Machine>(*this, static_cast<int>(locked_.allm.size()));
  Machine* m = owned.get();
  m->rand_state = (static_cast<uint64_t>(m->id) + 1) * 0x9E3779B97F4A7C15ull;
  m->nextp = p;
  m->spinning = spinning;
  locked_.allm.push_back(std::move(owned));
  m_count_.fetch_add(1);
  m->thread = std::thread([m] { m->thread_main(); });
  return m;
}

// Every goroutine is blocked and no M can run: Go's checkdead (step 5 of the spinning protocol,
// idle.h). Only meaningful while a Runtime::run main goroutine is alive (after it returns,
// leftover goroutines are leaks).
void Scheduler::check_dead() {
  if (locked_.stopping || main_active_.load() == 0) return;
  int running = m_count_.load() - locked_.idle.idle_m_count - locked_.idle.idle_locked_m_count;
  if (running > 0) return;
  if (global_.size() > 0 || live_.load() == 0) return;
  if (netpoll_->waiters() > 0 || any_timers() || poller_blocked_.load()) return;
  for (auto& p : allp_) {
    if (!p->runq.empty()) return;
  }
  base::fatal_raw("all goroutines are asleep - deadlock!");
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

// ---------------------------------------------------------------------------------------------
// Making goroutines runnable

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
  for (uint32_t i = 0; i < n; ++i) global_.put(locked_.runq, batch[i]);
  return true;
}

// Makes g runnable from a thread without a P: global queue, then wake a P.
void Scheduler::inject(Goroutine* g) {
  {
    base::ThreadMutexLock l(mu_);
    global_.put(locked_.runq, g);
  }
  idle_.wake_p();
}

void Scheduler::init_goroutine(Goroutine* g, uint64_t id, base::Task fn, uintptr_t created_pc,
                               uint64_t created_in, GStatus status) {
  g->id = id;
  g->fn = std::move(fn);
  g->ctx.sp = nullptr;
  g->wait_reason = status == GStatus::kWaiting ? WaitReason::kIOWait : WaitReason::kNone;
  g->wait_since.store(status == GStatus::kWaiting ? coarse_now_ns() : 0, std::memory_order_relaxed);
  g->created_pc = created_pc;
  g->created_in = created_in;
  g->param = nullptr;
  g->exceptions = ExceptionState{};
  g->select_done.store(0, std::memory_order_relaxed);
  g->status.store(status, std::memory_order_release);  // last: a dump may read g from here
  live_.fetch_add(1, std::memory_order_relaxed);
  created_.fetch_add(1, std::memory_order_relaxed);
  trace::go_create(g);
}

Goroutine* Scheduler::spawn(base::Task fn, uintptr_t created_pc) {
  Machine* m = this_m();
  if (m == nullptr || m->curg == nullptr) {
    base::fatal_raw("go() called from outside a goroutine (start one with Runtime::run)");
  }
  PUse use(m);
  Processor* p = use.p();
  GoroutineCache::Local* c = p != nullptr ? &p->cache : nullptr;
  Goroutine* g = cache_.get(c);
  init_goroutine(g, cache_.next_goid(c), std::move(fn), created_pc, m->curg->id);
  g->labels.store(label_retain(m->curg->labels.load(std::memory_order_relaxed)),
                  std::memory_order_relaxed);  // pprof labels are inherited, as in Go
  if (p == nullptr) {
    inject(g);
    return g;
  }
  runq_put(p, g, true);
  idle_.wake_p();
  return g;
}

Goroutine* Scheduler::create_waiting(base::Task fn) {
  Goroutine* g = cache_.get(nullptr);
  init_goroutine(g, cache_.next_goid(nullptr), std::move(fn),
                 reinterpret_cast<uintptr_t>(__builtin_return_address(0)), 0, GStatus::kWaiting);
  return g;
}

void Scheduler::run_main(base::Task main) {
  SPINDLE_CHECK(this_m() == nullptr, "Runtime::run called from a goroutine");
  bool done = false;
  {
    std::lock_guard<std::mutex> l(main_mu_);
    main_active_.fetch_add(1);
  }
  Goroutine* g = cache_.allocate();
  init_goroutine(g, cache_.next_goid(nullptr), [this, &main, &done] {
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
    idle_.wake_p();
  } else {
    inject(g);
  }
}

// ---------------------------------------------------------------------------------------------
// The running goroutine's calls

void Scheduler::park(WaitReason reason, UnlockFn unlock, void* arg) {
  Machine* m = this_m();
  Goroutine* g = current("park");
  check_not_in_blocking(g, "park", reason);
  g->wait_reason = reason;
  g->wait_since.store(coarse_now_ns(), std::memory_order_relaxed);
  // Block and mutex profiles: one relaxed load while both are off.
  if (wait_profiling()) [[unlikely]]
    g->blocked_at = wait_profile_begin(reason);
  m->unlock = unlock;
  m->unlock_arg = arg;
  m->switch_to_g0(g, AfterSwitch::kPark);
  if (g->blocked_at != 0) [[unlikely]] {
    wait_profile_end(g, reason);
    keep_frame();  // the block profile's stacks start in this frame
  }
}

void Scheduler::yield() {
  Machine* m = this_m();
  Goroutine* g = current("yield");
  check_not_in_blocking(g, "yield");
  m->switch_to_g0(g, AfterSwitch::kYield);
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
  if (procs() <= idle_.idle_p_count() + idle_.spinning_m_count() + 1) return false;
  // A heuristic: reading a P that sysmon may just have taken is harmless (only the M itself
  // writes m->p), so no claim (PUse) is needed.
  Machine* m = this_m();
  Processor* p = m != nullptr ? m->p : nullptr;
  return p != nullptr && p->runq.empty();
}

Stats Scheduler::stats() const {
  Stats s;
  s.procs = procs();
  s.idle_procs = idle_.idle_p_count();
  s.spinning_threads = idle_.spinning_m_count();
  s.threads = m_count_.load();
  s.global_runq = global_.size();
  s.live_goroutines = live_.load();
  s.goroutines_created = created_.load();
  s.steals = steals_.load();
  s.global_takes = global_.takes();
  s.thread_wakeups = wakeups_.load();
  s.netpoll_polls = netpoll_->polls();
  s.netpoll_events = netpoll_->events();
  s.handoffs = handoffs_.load();
  s.preemptions = preemptions_.load();
  for (auto& p : allp_) s.timers += static_cast<int64_t>(p->timers.size());
  base::ThreadMutexLock l(mu_);
  s.idle_threads = locked_.idle.idle_m_count;
  return s;
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
  return wyrand(m != nullptr ? m->rand_state : t_state);
}

uint32_t fastrandn(uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(fastrand()) * n) >> 32);
}

}  // namespace spindle::runtime
