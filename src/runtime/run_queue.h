// RunQueue: a processor's local run queue (Go's p.runq and p.runnext). A 256-slot ring that
// only the owner P pushes to (the M that holds the P's status word in kBusy: processor.h); the
// owner pops and other Ps steal half from the head, both with a CAS on `head_`. `runnext` holds the
// goroutine readied most recently by the owner: it runs next, ahead of the ring, so a
// producer/consumer pair keeps running back to back.
#pragma once

#include <atomic>
#include <cstdint>

namespace spindle::runtime {

struct Goroutine;

class RunQueue {
 public:
  static constexpr uint32_t kSize = 256;

  // Owner only. Appends g to the ring; false when the ring is full (the caller then moves half
  // of it to the global queue with take_half_for_overflow).
  bool push_back(Goroutine* g);
  // Owner only. runnext first, then the ring's head; null when empty.
  Goroutine* pop();
  // Owner only. Sets runnext to g and returns what it held (to be pushed to the ring), or null.
  Goroutine* swap_runnext(Goroutine* g) { return runnext_.exchange(g, std::memory_order_acq_rel); }
  // Owner only, when push_back failed: removes the older half of a full ring into out (which
  // must hold kSize / 2) and returns how many; 0 if thieves raced us (retry push_back).
  uint32_t take_half_for_overflow(Goroutine** out);

  // Any thread (a thief). Moves half of this queue (at least one goroutine, runnext only when
  // `take_runnext`) into `dst`, which must be owned by the caller and empty, and returns one
  // of them to run; null when there was nothing to steal.
  Goroutine* steal_half_into(RunQueue& dst, bool take_runnext);

  // Owner only: free slots in the ring (thieves only add to it meanwhile).
  uint32_t room() const;

  // Any thread; a racy snapshot.
  bool empty() const;
  uint32_t size() const;

 private:
  uint32_t grab(Goroutine** out, bool take_runnext);

  std::atomic<uint32_t> head_{0};  // next to pop; CAS by owner and thieves
  std::atomic<uint32_t> tail_{0};  // next free slot; stored only by the owner
  std::atomic<Goroutine*> runnext_{nullptr};
  // Slots are atomics only so that a thief's speculative read of a slot the owner is
  // rewriting is not a data race; its CAS on head_ then fails and the read is discarded.
  std::atomic<Goroutine*> slots_[kSize];
};

}  // namespace spindle::runtime
