// GoroutineCache (goroutine_cache.h): the slow paths, which take the scheduler lock.
#include "runtime/goroutine_cache.h"

#include "base/check.h"
#include "runtime/goroutine.h"

#if defined(SPINDLE_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace spindle::runtime {

// c is null or empty: refill it from the global list, else hand out a global one directly.
Goroutine* GoroutineCache::get_slow(Local* c) {
  if (free_count_hint_.load(std::memory_order_relaxed) > 0) {
    base::ThreadMutexLock l(mu_);
    if (c == nullptr && free_ != nullptr) {
      Goroutine* g = free_;
      free_ = g->sched_next;
      free_count_hint_.fetch_sub(1, std::memory_order_relaxed);
      g->sched_next = nullptr;
      return g;
    }
    while (c != nullptr && free_ != nullptr && c->gfree_count < kLocalGoroutines) {
      Goroutine* g = free_;
      free_ = g->sched_next;
      g->sched_next = c->gfree;
      c->gfree = g;
      ++c->gfree_count;
      free_count_hint_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  if (c != nullptr && c->gfree != nullptr) return get(c);  // refilled
  return allocate();
}

Goroutine* GoroutineCache::allocate() {
  auto* g = new Goroutine();
  base::ThreadMutexLock l(allg_mu_);
  allg_.push_back(g);
  return g;
}

// c is null, or holds kLocalGoroutinesMax: the goroutine (or the excess) goes to the global list.
void GoroutineCache::put_slow(Local* c, Goroutine* g) {
  base::ThreadMutexLock l(mu_);
  if (c == nullptr) {
    g->sched_next = free_;
    free_ = g;
    free_count_hint_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  while (c->gfree_count > kLocalGoroutines) {
    Goroutine* x = c->gfree;
    c->gfree = x->sched_next;
    --c->gfree_count;
    x->sched_next = free_;
    free_ = x;
    free_count_hint_.fetch_add(1, std::memory_order_relaxed);
  }
}

void GoroutineCache::refill_stacks(Local& c) {
  base::ThreadMutexLock l(mu_);
  while (!stacks_.empty() && c.stacks.size() < kStackBatch) {
    c.stacks.push_back(stacks_.back());
    stacks_.pop_back();
  }
}

void GoroutineCache::put_stack_slow(Local* c, Stack s) {
  base::ThreadMutexLock l(mu_);
  if (c == nullptr) {
    global_stack_put(s);
    return;
  }
  while (c->stacks.size() > kStackBatch) {
    global_stack_put(c->stacks.back());
    c->stacks.pop_back();
  }
}

void GoroutineCache::global_stack_put(Stack s) {
  if (stacks_.size() < kGlobalStacksMax) {
    stacks_.push_back(s);
  } else {
    s.release();
  }
}

void GoroutineCache::destroy(const std::vector<Local*>& locals) {
  {
    base::ThreadMutexLock l(mu_);
    for (Stack& st : stacks_) st.release();
    for (Local* c : locals) {
      for (Stack& st : c->stacks) st.release();
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
}

}  // namespace spindle::runtime
