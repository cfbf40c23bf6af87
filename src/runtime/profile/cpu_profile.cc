// CPU profiler (cpu_profile.h).
//
// Threads. Each runtime thread registers itself (profiled_thread_start): its kernel thread id,
// pthread handle and stack bounds go into the registry, and a thread-local pointer lets the
// SIGPROF handler find its entry. Starting a profile gives every registered thread a ring and
// a timer (timer_create on the thread's CPU-time clock, pthread_getcpuclockid, delivered to
// that thread with SIGEV_THREAD_ID), so samples follow the CPU each thread burns; a thread
// starting during a profile arms its own. Stopping deletes the timers.
//
// The handler (async-signal-safe: no lock, no allocation, errno preserved):
//   1. returns unless a profile runs (g_gen != 0) and the thread has a ring;
//   2. picks the stack bounds from the interrupted stack pointer: the running goroutine's
//      stack (then the sample carries its id and labels, one reference taken), else the
//      thread's own stack, else none (only the PC is kept: e.g. mid-switch);
//   3. walks the frame pointers within them into the ring's next slot, tagged with the
//      profile's generation, and publishes the slot (release store of head).
// A ring is single-producer (only its thread's handler writes it; SIGPROF is masked while the
// handler runs) and single-consumer (the profile's owner, under the registry lock): head and
// tail with acquire/release, a full ring counts the sample as lost. A handler that read the
// generation just before a stop may still publish a slot afterwards: the next reader drops
// slots of another generation.
#include "runtime/profile/cpu_profile.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <unordered_map>

#include "base/check.h"
#include "base/thread_annotations.h"
#include "base/thread_mutex.h"
#include "runtime/machine.h"
#include "runtime/profile/frames.h"

namespace spindle::runtime {
namespace {

constexpr uint64_t kRingSlots = 256;  // 2.56 s of one thread's samples at 100 Hz

struct Slot {
  uint64_t gen = 0;
  uint64_t goroutine = 0;
  const LabelSetRep* labels = nullptr;  // one reference, taken by the handler
  int depth = 0;
  uintptr_t pcs[kMaxProfileDepth];
};

struct Ring {
  std::atomic<uint64_t> head{0};  // written only by the thread's handler
  std::atomic<uint64_t> tail{0};  // written only by the reader
  std::atomic<uint64_t> lost{0};
  Slot slots[kRingSlots];
};

struct ProfiledThread {
  pid_t tid = 0;
  pthread_t self{};
  uintptr_t stack_lo = 0;
  uintptr_t stack_hi = 0;
  std::atomic<Ring*> ring{nullptr};  // set once, before the first timer; freed with the thread
  timer_t timer{};
  bool armed = false;
};

struct Registry {
  base::ThreadMutex mu;
  std::vector<ProfiledThread*> threads GUARDED_BY(mu);
  int hz GUARDED_BY(mu) = 0;  // of the running profile; 0: none
  uint64_t gen GUARDED_BY(mu) = 0;
  bool handler_installed GUARDED_BY(mu) = false;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: threads may outlive static destructors
  return *r;
}

// The running profile's generation, 0 when none: what the handler checks first.
std::atomic<uint64_t> g_gen{0};
constinit thread_local ProfiledThread* t_thread = nullptr;

void record_sample(const ProfiledThread& t, Ring& r, uint64_t gen, const ucontext_t* uc) {
  const uint64_t head = r.head.load(std::memory_order_relaxed);
  if (head - r.tail.load(std::memory_order_acquire) >= kRingSlots) {
    r.lost.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Slot& s = r.slots[head % kRingSlots];
  const greg_t* regs = uc->uc_mcontext.gregs;
  const auto pc = static_cast<uintptr_t>(regs[REG_RIP]);
  const auto sp = static_cast<uintptr_t>(regs[REG_RSP]);
  const auto fp = static_cast<uintptr_t>(regs[REG_RBP]);
  uintptr_t lo = 0;
  uintptr_t hi = 0;
  s.goroutine = 0;
  s.labels = nullptr;
  Machine* m = this_m();
  const Goroutine* g = m != nullptr ? m->curg : nullptr;
  if (g != nullptr && g->stack.valid() && sp >= reinterpret_cast<uintptr_t>(g->stack.lo()) &&
      sp < reinterpret_cast<uintptr_t>(g->stack.hi())) {
    lo = sp;
    hi = reinterpret_cast<uintptr_t>(g->stack.hi());
    s.goroutine = g->id;
    s.labels = label_retain(g->labels.load(std::memory_order_relaxed));
  } else if (sp >= t.stack_lo && sp < t.stack_hi) {
    lo = sp;
    hi = t.stack_hi;
  }
  s.pcs[0] = pc + 1;  // as if a return address, like every other frame
  s.depth = 1 + (hi > lo ? walk_frame_pointers(fp, lo, hi, s.pcs + 1, kMaxProfileDepth - 1) : 0);
  s.gen = gen;
  r.head.store(head + 1, std::memory_order_release);
}

void on_sigprof(int, siginfo_t*, void* ucontext) {
  const int saved_errno = errno;
  const ProfiledThread* t = t_thread;
  const uint64_t gen = g_gen.load(std::memory_order_acquire);
  Ring* r = t != nullptr && gen != 0 ? t->ring.load(std::memory_order_acquire) : nullptr;
  if (r != nullptr) record_sample(*t, *r, gen, static_cast<const ucontext_t*>(ucontext));
  errno = saved_errno;
}

void install_handler(Registry& reg) REQUIRES(reg.mu) {
  if (reg.handler_installed) return;
  struct sigaction sa {};
  sa.sa_sigaction = on_sigprof;
  // SA_RESTART: system calls interrupted by a sample resume instead of failing with EINTR.
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  SPINDLE_CHECK(sigaction(SIGPROF, &sa, nullptr) == 0, "cannot install the SIGPROF handler");
  reg.handler_installed = true;
}

void ensure_ring(ProfiledThread* t) {
  if (t->ring.load(std::memory_order_relaxed) == nullptr) {
    t->ring.store(new Ring, std::memory_order_release);
  }
}

// A timer on t's CPU clock, sending t SIGPROF hz times per CPU second, its first expiry at a
// random point of the first period (as Go does, so threads started together do not tick in
// step). Returns false if the kernel refused (the thread is then not sampled).
bool arm(ProfiledThread* t, int hz) {
  clockid_t clock;
  if (pthread_getcpuclockid(t->self, &clock) != 0) return false;
  sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev._sigev_un._tid = t->tid;
  if (timer_create(clock, &sev, &t->timer) != 0) return false;
  const int64_t period = 1'000'000'000 / hz;
  const int64_t first = 1 + static_cast<int64_t>(fastrandn(static_cast<uint32_t>(period)));
  itimerspec its{};
  its.it_interval = {static_cast<time_t>(period / 1'000'000'000),
                     static_cast<long>(period % 1'000'000'000)};
  its.it_value = {static_cast<time_t>(first / 1'000'000'000),
                  static_cast<long>(first % 1'000'000'000)};
  if (timer_settime(t->timer, 0, &its, nullptr) != 0) {
    timer_delete(t->timer);
    return false;
  }
  t->armed = true;
  return true;
}

void disarm(ProfiledThread* t) {
  if (!t->armed) return;
  timer_delete(t->timer);
  t->armed = false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Aggregation

struct CpuProfiler::Aggregate {
  struct Key {
    std::vector<uintptr_t> pcs;
    uint64_t goroutine = 0;
    const LabelSetRep* labels = nullptr;  // compared by identity; the aggregate holds a reference
    bool operator==(const Key&) const = default;
  };

  struct KeyHash {
    size_t operator()(const Key& k) const {
      uint64_t h = k.goroutine * 0x9E3779B97F4A7C15ull ^ reinterpret_cast<uintptr_t>(k.labels);
      for (uintptr_t pc : k.pcs) h = (h ^ pc) * 0x100000001B3ull;
      return static_cast<size_t>(h);
    }
  };

  uint64_t gen = 0;
  int64_t samples = 0;
  std::unordered_map<Key, int64_t, KeyHash> counts;

  ~Aggregate() {
    for (auto& [k, n] : counts) label_release(k.labels);
  }
  // Consumes one slot's reference to its labels.
  void add(const Slot& s) {
    Key k{std::vector<uintptr_t>(s.pcs, s.pcs + s.depth), s.goroutine, s.labels};
    auto [it, inserted] = counts.try_emplace(std::move(k), 0);
    ++it->second;
    ++samples;
    if (!inserted) label_release(s.labels);
  }
};

namespace {

// Reader side of t's ring: slots of generation gen go to agg (null: dropped). Returns the
// samples lost since the last drain.
uint64_t drain(ProfiledThread* t, uint64_t gen, CpuProfiler::Aggregate* agg) {
  Ring* r = t->ring.load(std::memory_order_acquire);
  if (r == nullptr) return 0;
  uint64_t tail = r->tail.load(std::memory_order_relaxed);
  const uint64_t head = r->head.load(std::memory_order_acquire);
  for (; tail != head; ++tail) {
    const Slot& s = r->slots[tail % kRingSlots];
    if (agg != nullptr && s.gen == gen) {
      agg->add(s);
    } else {
      label_release(s.labels);
    }
  }
  r->tail.store(tail, std::memory_order_release);
  return r->lost.exchange(0, std::memory_order_relaxed);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// cpu_profile.h

void profiled_thread_start() {
  auto* t = new ProfiledThread;
  t->tid = static_cast<pid_t>(syscall(SYS_gettid));
  t->self = pthread_self();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    size_t size = 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
      t->stack_lo = reinterpret_cast<uintptr_t>(addr);
      t->stack_hi = t->stack_lo + size;
    }
    pthread_attr_destroy(&attr);
  }
  Registry& reg = registry();
  base::ThreadMutexLock l(reg.mu);
  reg.threads.push_back(t);
  t_thread = t;
  if (reg.hz != 0) {
    ensure_ring(t);
    arm(t, reg.hz);
  }
}

void profiled_thread_exit() {
  ProfiledThread* t = t_thread;
  if (t == nullptr) return;
  // A SIGPROF still pending now stays pending until the thread is gone: the handler never runs
  // on this thread again, so its ring can be freed.
  sigset_t prof;
  sigemptyset(&prof);
  sigaddset(&prof, SIGPROF);
  pthread_sigmask(SIG_BLOCK, &prof, nullptr);
  Registry& reg = registry();
  {
    base::ThreadMutexLock l(reg.mu);
    disarm(t);
    drain(t, 0, nullptr);  // drops the labels' references
    std::erase(reg.threads, t);
    t_thread = nullptr;
  }
  delete t->ring.load(std::memory_order_relaxed);
  delete t;
}

CpuProfiler::CpuProfiler(int hz) : hz_(hz), agg_(std::make_unique<Aggregate>()) {}

std::unique_ptr<CpuProfiler> CpuProfiler::start(int hz) {
  hz = std::clamp(hz, 1, 1000);
  Registry& reg = registry();
  base::ThreadMutexLock l(reg.mu);
  if (reg.hz != 0) return nullptr;
  install_handler(reg);
  reg.hz = hz;
  const uint64_t gen = ++reg.gen;
  std::unique_ptr<CpuProfiler> p(new CpuProfiler(hz));
  p->agg_->gen = gen;
  for (ProfiledThread* t : reg.threads) {
    ensure_ring(t);
    drain(t, 0, nullptr);  // what an earlier profile's late handlers left
  }
  g_gen.store(gen, std::memory_order_release);
  for (ProfiledThread* t : reg.threads) arm(t, hz);
  return p;
}

void CpuProfiler::collect() {
  if (stopped_) return;
  Registry& reg = registry();
  base::ThreadMutexLock l(reg.mu);
  for (ProfiledThread* t : reg.threads) lost_ += drain(t, agg_->gen, agg_.get());
  samples_ = agg_->samples;
}

std::vector<CpuSample> CpuProfiler::stop() {
  std::vector<CpuSample> out;
  if (stopped_) return out;
  stopped_ = true;
  {
    Registry& reg = registry();
    base::ThreadMutexLock l(reg.mu);
    g_gen.store(0, std::memory_order_release);
    reg.hz = 0;
    for (ProfiledThread* t : reg.threads) {
      disarm(t);
      lost_ += drain(t, agg_->gen, agg_.get());
    }
  }
  samples_ = agg_->samples;
  out.reserve(agg_->counts.size());
  for (auto& [k, n] : agg_->counts) {
    out.push_back(CpuSample{k.pcs, k.goroutine, LabelSet::adopt(label_retain(k.labels)), n});
  }
  agg_.reset();
  return out;
}

CpuProfiler::~CpuProfiler() { stop(); }

}  // namespace spindle::runtime
