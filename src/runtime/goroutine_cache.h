// GoroutineCache: where goroutines, their stacks and their ids come from. Dead goroutines and
// stacks are kept for reuse in a per-P cache (GoroutineCache::Local, in each Processor: owner
// only, no lock), which spills to and refills from global lists under the scheduler lock
// (Go's p.gFree and sched.gFree; p.goidcache). Goroutines are never freed before the
// Runtime. docs/runtime.md, "Stacks", has the reasoning.
//
// Stacks outlive their goroutines: a dead goroutine's stack goes to its P's cache, and the
// next goroutine to start running takes it (Machine::execute), so 1M queued goroutines need
// only as many stacks as run at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/thread_annotations.h"
#include "base/thread_mutex.h"
#include "runtime/goroutine.h"
#include "runtime/stack.h"

namespace spindle::runtime {

class GoroutineCache {
 public:
  // One P's share (Processor::cache). Owner only.
  struct Local {
    // Dead goroutines kept for reuse (Go's p.gFree).
    Goroutine* gfree = nullptr;
    int gfree_count = 0;
    // Stacks of dead goroutines, for the next goroutine that starts running.
    std::vector<Stack> stacks;
    // Goroutine ids handed out in batches so spawning doesn't contend on one counter.
    uint64_t goid_next = 0;
    uint64_t goid_end = 0;
  };

  // `mu` is the scheduler lock, which guards the global lists.
  GoroutineCache(base::ThreadMutex& mu, size_t stack_size) : mu_(mu), stack_size_(stack_size) {}
  GoroutineCache(const GoroutineCache&) = delete;
  GoroutineCache& operator=(const GoroutineCache&) = delete;

  // Usable bytes of every stack it hands out.
  size_t stack_size() const { return stack_size_; }

  // Every function below takes the caller's P's share `c` (its Processor::cache), or null
  // for a caller without a P; only the P's owner may pass it.

  // A free goroutine: from c (refilled from the global list), else a new one.
  Goroutine* get(Local* c) {
    if (c != nullptr && c->gfree != nullptr) {
      Goroutine* g = c->gfree;
      c->gfree = g->sched_next;
      g->sched_next = nullptr;
      --c->gfree_count;
      return g;
    }
    return get_slow(c);
  }
  // Takes back a dead goroutine.
  void put(Local* c, Goroutine* g) {
    g->ctx.sp = nullptr;
    if (c != nullptr) {
      g->sched_next = c->gfree;
      c->gfree = g;
      if (++c->gfree_count < kLocalGoroutinesMax) return;
    }
    put_slow(c, g);
  }
  // A new goroutine, never reused before (Runtime::run's main goroutine).
  Goroutine* allocate();
  // Every goroutine allocated so far (Go's allgs), whatever its status. Any thread.
  std::vector<Goroutine*> all() {
    base::ThreadMutexLock l(allg_mu_);
    return allg_;
  }
  // The next goroutine id, from c's batch.
  uint64_t next_goid(Local* c) {
    constexpr uint64_t kBatch = 16;
    if (c == nullptr) return goid_gen_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (c->goid_next == c->goid_end) {
      c->goid_next = goid_gen_.fetch_add(kBatch, std::memory_order_relaxed) + 1;
      c->goid_end = c->goid_next + kBatch;
    }
    return c->goid_next++;
  }

  // A stack for a goroutine about to run on the owner of c, from c (refilled from the global
  // list), else a new one.
  Stack get_stack(Local& c) {
    if (c.stacks.empty()) refill_stacks(c);
    if (c.stacks.empty()) return Stack::allocate(stack_size_);
    Stack s = c.stacks.back();
    c.stacks.pop_back();
    return s;
  }
  // Takes back a dead goroutine's stack.
  void put_stack(Local* c, Stack s) {
    if (c != nullptr) {
      c->stacks.push_back(s);
      if (c->stacks.size() < 2 * kStackBatch) return;
    }
    put_stack_slow(c, s);
  }

  // At the end of the Runtime, with every M stopped: releases the stacks cached globally and
  // in `locals`, and frees every goroutine ever allocated.
  void destroy(const std::vector<Local*>& locals);

 private:
  static constexpr int kLocalGoroutinesMax = 64;  // a P's share spills beyond this ...
  static constexpr int kLocalGoroutines = 32;     // ... down to this, and refills up to it
  static constexpr size_t kStackBatch = 16;       // stacks moved between a P and the global list
  static constexpr size_t kGlobalStacksMax = 1024;

  Goroutine* get_slow(Local* c);
  void put_slow(Local* c, Goroutine* g);
  void refill_stacks(Local& c);
  void put_stack_slow(Local* c, Stack s);
  void global_stack_put(Stack s) REQUIRES(mu_);

  base::ThreadMutex& mu_;
  const size_t stack_size_;
  Goroutine* free_ GUARDED_BY(mu_) = nullptr;
  std::vector<Stack> stacks_ GUARDED_BY(mu_);
  std::atomic<int> free_count_hint_{0};
  std::atomic<uint64_t> goid_gen_{0};

  base::ThreadMutex allg_mu_;
  std::vector<Goroutine*> allg_ GUARDED_BY(allg_mu_);  // every G ever allocated (reused, not freed)
};

}  // namespace spindle::runtime
