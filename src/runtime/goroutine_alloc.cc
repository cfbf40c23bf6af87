// Goroutines and their stacks: ids, free lists (per P, then global), stack caches, spawn.
// Split from scheduler.cc; docs/runtime.md, "Stacks", has the reasoning.
#include "base/check.h"
#include "runtime/scheduler_internal.h"

namespace spindle::runtime {

uint64_t Scheduler::next_goid(Processor* p) {
  constexpr uint64_t kBatch = 16;
  if (p == nullptr) return goid_gen_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (p->goid_next == p->goid_end) {
    p->goid_next = goid_gen_.fetch_add(kBatch, std::memory_order_relaxed) + 1;
    p->goid_end = p->goid_next + kBatch;
  }
  return p->goid_next++;
}

// A free goroutine: from P p's list (refilled from the global one), else a new one. p may be
// null (a caller without a P).
Goroutine* Scheduler::g_get(Processor* p) {
  if ((p == nullptr || p->gfree == nullptr) &&
      global_free_count_hint_.load(std::memory_order_relaxed) > 0) {
    base::ThreadMutexLock l(mu_);
    if (p == nullptr && global_free_ != nullptr) {
      Goroutine* g = global_free_;
      global_free_ = g->sched_next;
      global_free_count_hint_.fetch_sub(1, std::memory_order_relaxed);
      g->sched_next = nullptr;
      return g;
    }
    while (p != nullptr && global_free_ != nullptr && p->gfree_count < 32) {
      Goroutine* g = global_free_;
      global_free_ = g->sched_next;
      g->sched_next = p->gfree;
      p->gfree = g;
      ++p->gfree_count;
      global_free_count_hint_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  if (p != nullptr && p->gfree != nullptr) {
    Goroutine* g = p->gfree;
    p->gfree = g->sched_next;
    g->sched_next = nullptr;
    --p->gfree_count;
    return g;
  }
  auto* g = new Goroutine();
  base::ThreadMutexLock l(allg_mu_);
  allg_.push_back(g);
  return g;
}

void Scheduler::g_put(Processor* p, Goroutine* g) {
  g->ctx.sp = nullptr;
  if (p != nullptr) {
    g->sched_next = p->gfree;
    p->gfree = g;
    if (++p->gfree_count < 64) return;
  }
  base::ThreadMutexLock l(mu_);
  if (p == nullptr) {
    g->sched_next = global_free_;
    global_free_ = g;
    global_free_count_hint_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  while (p->gfree_count > 32) {
    Goroutine* x = p->gfree;
    p->gfree = x->sched_next;
    --p->gfree_count;
    x->sched_next = global_free_;
    global_free_ = x;
    global_free_count_hint_.fetch_add(1, std::memory_order_relaxed);
  }
}

// Stacks outlive their goroutines: a dead goroutine's stack goes to its P's cache, and the next
// goroutine to start running takes it, so 1M queued goroutines need only as many stacks as
// run at once.
Stack Scheduler::stack_get(Processor* p) {
  if (p->stack_cache.empty()) {
    base::ThreadMutexLock l(mu_);
    while (!global_stacks_.empty() && p->stack_cache.size() < kStackCacheBatch) {
      p->stack_cache.push_back(global_stacks_.back());
      global_stacks_.pop_back();
    }
  }
  if (p->stack_cache.empty()) return Stack::allocate(stack_size_);
  Stack s = p->stack_cache.back();
  p->stack_cache.pop_back();
  return s;
}

void Scheduler::stack_put(Processor* p, Stack s) {
  if (p != nullptr) {
    p->stack_cache.push_back(s);
    if (p->stack_cache.size() < 2 * kStackCacheBatch) return;
  }
  base::ThreadMutexLock l(mu_);
  if (p == nullptr) {
    global_stack_put(s);
    return;
  }
  while (p->stack_cache.size() > kStackCacheBatch) {
    global_stack_put(p->stack_cache.back());
    p->stack_cache.pop_back();
  }
}

void Scheduler::global_stack_put(Stack s) {
  if (global_stacks_.size() < kGlobalStackCacheMax) {
    global_stacks_.push_back(s);
  } else {
    s.release();
  }
}

void Scheduler::init_goroutine(Goroutine* g, uint64_t id, base::Task fn) {
  g->id = id;
  g->fn = std::move(fn);
  g->ctx.sp = nullptr;
  g->wait_reason = WaitReason::kNone;
  g->param = nullptr;
  g->exceptions = ExceptionState{};
  g->select_done.store(0, std::memory_order_relaxed);
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  live_.fetch_add(1, std::memory_order_relaxed);
  created_.fetch_add(1, std::memory_order_relaxed);
}

Goroutine* Scheduler::spawn(base::Task fn) {
  Machine* m = this_m();
  if (m == nullptr || m->curg == nullptr) {
    base::fatal_raw("go() called from outside a goroutine (start one with Runtime::run)");
  }
  PUse use(m);
  Processor* p = use.p();
  Goroutine* g = g_get(p);
  init_goroutine(g, next_goid(p), std::move(fn));
  if (p == nullptr) {
    inject(g);
    return g;
  }
  runq_put(p, g, true);
  wake_p();
  return g;
}

Goroutine* Scheduler::create_waiting(base::Task fn) {
  Goroutine* g = g_get(nullptr);
  init_goroutine(g, next_goid(nullptr), std::move(fn));
  g->status.store(GStatus::kWaiting, std::memory_order_relaxed);
  g->wait_reason = WaitReason::kIOWait;
  return g;
}

}  // namespace spindle::runtime
