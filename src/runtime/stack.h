// Goroutine stacks: carved back to back from large read-write arenas, each with a 64 KiB guard
// region below it that faults on any access, so an overflow is reported instead of corrupting
// a neighbour; only touched pages count toward RSS. The guards are kernel guard markers
// (MADV_GUARD_INSTALL, Linux 6.13+), which cost no memory mapping, so a million stacks fit
// Debian's default vm.max_map_count; older kernels get PROT_NONE mappings (two mappings per
// stack). Reuse is per P (free goroutines keep their stacks, see Processor::gfree). Design and
// rejected alternatives: docs/runtime.md, "Stacks".
#pragma once

#include <cstddef>

namespace spindle::runtime {

class Stack {
 public:
  Stack() = default;
  // Guard bytes below every stack: more than any fixed frame in the system's C and C++
  // libraries (Debian 12's glibc: 33 KiB at most), which are built without stack probing.
  static constexpr size_t kGuardBytes = 64 * 1024;

  // Carves `usable` bytes (rounded up to pages) plus the guard, or reuses a released stack of
  // that size. When the kernel refuses (address space, overcommit or mapping limits), prints
  // what ran out and what to change, and exits with status 2 (out of memory, like Go).
  static Stack allocate(size_t usable);
  // Gives the stack back for reuse; its pages stay resident until scavenge_stacks.
  void release();

  bool valid() const { return base_ != nullptr; }
  char* lo() const { return base_ + guard_; }   // lowest usable byte
  char* hi() const { return base_ + mapped_; }  // one past the highest
  size_t usable() const { return mapped_ - guard_; }
  size_t mapped() const { return mapped_; }
  // True when addr lies in this stack's guard (the stack-overflow handler asks).
  bool in_guard(const void* addr) const;

 private:
  char* base_ = nullptr;
  size_t mapped_ = 0;
  size_t guard_ = 0;
};

// How stacks get their guards: kernel guard markers (no memory mapping of their own), or, on
// kernels without them, PROT_NONE mappings (each stack then costs two mappings, and
// vm.max_map_count caps the stacks at about half its value).
enum class StackGuards { kMarkers, kMappings };
StackGuards stack_guards();
// Uses PROT_NONE mappings from now on, as on a kernel without guard markers (tests only).
void use_guard_mappings_for_test();
// Stacks carved from the arenas so far (a stack's address range is never returned, only its
// pages: released stacks are reused).
size_t stacks_carved();

// Returns the pages of released stacks to the kernel, oldest first, until at most `keep` are
// left resident or `max` were returned. Returns how many. Called by sysmon.
size_t scavenge_stacks(size_t keep, size_t max);

}  // namespace spindle::runtime
