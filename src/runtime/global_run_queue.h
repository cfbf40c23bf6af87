// GlobalRunQueue: the run queue shared by every P (Go's sched.runq). It holds goroutines that
// did not fit a P's local queue, that yielded, or that were readied by a thread without a P.
// A FIFO linked through Goroutine::sched_next. The list is guarded by the scheduler lock
// (Scheduler::mu_): it lives in the scheduler's locked state, and every call that touches it
// takes that part as an argument, so only a caller holding the lock can name it. The length is
// also kept in an atomic, written under the lock and read without it as a hint.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "base/check.h"
#include "runtime/goroutine.h"
#include "runtime/processor.h"
#include "runtime/run_queue.h"

namespace spindle::runtime {

class GlobalRunQueue {
 public:
  // Fairness: a P takes one goroutine from here before its local queue on every 61st
  // goroutine it runs (Processor::schedtick), so goroutines that keep readying each other
  // through runnext cannot starve the global queue (Go's schedule(), "check the global
  // runnable queue once in a while").
  static constexpr uint32_t kFairnessTick = 61;

  // The part under the scheduler lock.
  struct Locked {
    Goroutine* head = nullptr;
    Goroutine* tail = nullptr;
  };

  explicit GlobalRunQueue(int procs) : procs_(procs) {}

  // Appends g. The caller holds the scheduler lock.
  void put(Locked& q, Goroutine* g) {
    g->sched_next = nullptr;
    if (q.tail != nullptr) {
      q.tail->sched_next = g;
    } else {
      q.head = g;
    }
    q.tail = g;
    size_.fetch_add(1, std::memory_order_relaxed);
  }

  // Takes a fair share of the queue for P p (min(len, len / procs + 1), at most `max` when
  // max > 0, at most half a local ring): returns one and puts the rest on p's local queue,
  // which the caller knows to be empty when max != 1. Null when the queue is empty. The caller
  // holds the scheduler lock.
  Goroutine* get(Locked& q, Processor* p, uint32_t max) {
    int64_t size = size_.load(std::memory_order_relaxed);
    if (size == 0) return nullptr;
    int64_t n = std::min<int64_t>(size, size / procs_ + 1);
    if (max > 0 && n > max) n = max;
    if (n > RunQueue::kSize / 2) n = RunQueue::kSize / 2;
    size_.fetch_sub(n, std::memory_order_relaxed);
    takes_.fetch_add(1, std::memory_order_relaxed);
    Goroutine* first = nullptr;
    for (int64_t i = 0; i < n; ++i) {
      Goroutine* g = q.head;
      q.head = g->sched_next;
      if (q.head == nullptr) q.tail = nullptr;
      g->sched_next = nullptr;
      if (first == nullptr) {
        first = g;
      } else {
        SPINDLE_CHECK(p->runq.push_back(g), "no room for a global batch");
      }
    }
    return first;
  }

  // Whether P p is due to look here before its local queue (kFairnessTick) and there is
  // anything to find. Owner of p only; no lock.
  bool fairness_due(const Processor* p) const {
    return p->schedtick.load(std::memory_order_relaxed) % kFairnessTick == 0 &&
           size_.load(std::memory_order_relaxed) > 0;
  }

  // Goroutines queued: exact under the scheduler lock, a hint without it. The protocols that
  // read it without the lock say which order they need (seq_cst in the spinning M's recheck,
  // idle.h).
  int64_t size(std::memory_order order = std::memory_order_seq_cst) const {
    return size_.load(order);
  }
  // Batches taken (Stats::global_takes).
  uint64_t takes() const { return takes_.load(); }

 private:
  const int procs_;
  std::atomic<int64_t> size_{0};
  std::atomic<uint64_t> takes_{0};
};

}  // namespace spindle::runtime
