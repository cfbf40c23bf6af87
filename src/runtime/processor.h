// Processor (P): the right to run goroutines. A Machine (thread) must hold a P to run Go code;
// there are exactly Options::procs of them. Each owns a local run queue and a cache of free
// goroutines and of stacks. See "Processors" in scheduler.cc's design comment.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/run_queue.h"
#include "runtime/stack.h"

namespace spindle::runtime {

struct Goroutine;
class Machine;

struct Processor {
  explicit Processor(int pid) : id(pid) {}

  const int id;
  RunQueue runq;
  uint32_t schedtick = 0;          // goroutines run; every 61st looks at the global queue first
  Machine* m = nullptr;            // the M holding this P, or null when idle
  Processor* idle_next = nullptr;  // link in Scheduler's idle list (under its lock)

  // Dead goroutines kept for reuse (Go's p.gFree), and stacks of dead goroutines for the next
  // goroutine that starts running. Owner only.
  Goroutine* gfree = nullptr;
  int gfree_count = 0;
  std::vector<Stack> stack_cache;

  // Goroutine ids handed out in batches so spawning doesn't contend on one counter.
  uint64_t goid_next = 0;
  uint64_t goid_end = 0;
};

}  // namespace spindle::runtime
