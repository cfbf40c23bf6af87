// Goroutine stacks: mmap'd with a PROT_NONE guard page below, so an overflow faults instead of
// corrupting a neighbour; only touched pages count toward RSS. Reuse is per P (free goroutines
// keep their stacks, see Processor::gfree).
#pragma once

#include <cstddef>

namespace spindle::runtime {

class Stack {
 public:
  Stack() = default;
  // Maps `usable` bytes (rounded up to pages) plus a guard page, or reuses a released stack of
  // that size. Fatal with a clear message (including vm.max_map_count) when the kernel refuses.
  static Stack allocate(size_t usable);
  // Gives the stack back for reuse; its pages stay resident until scavenge_stacks.
  void release();

  bool valid() const { return base_ != nullptr; }
  char* lo() const { return base_ + guard_; }   // lowest usable byte
  char* hi() const { return base_ + mapped_; }  // one past the highest
  size_t usable() const { return mapped_ - guard_; }
  size_t mapped() const { return mapped_; }
  // True when addr lies in this stack's guard page (the stack-overflow handler asks).
  bool in_guard(const void* addr) const;

 private:
  char* base_ = nullptr;
  size_t mapped_ = 0;
  size_t guard_ = 0;
};

// Returns the pages of released stacks to the kernel, oldest first, until at most `keep` are
// left resident or `max` were returned. Returns how many. Called by sysmon.
size_t scavenge_stacks(size_t keep, size_t max);

}  // namespace spindle::runtime
