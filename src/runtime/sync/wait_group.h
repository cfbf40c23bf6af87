// WaitGroup: waits for a collection of goroutines to finish (Go's sync.WaitGroup). add()
// counts work, done() finishes one piece, wait() parks until the count is zero.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/sync/sema.h"

namespace spindle::runtime {

// Usage rule (Go's): calls to add() with a positive delta that start while the counter is
// zero must happen before wait(). A WaitGroup may be reused once every wait() of the previous
// round has returned. Misuse is fatal, never a hang or a silent miscount:
//   "sync: negative WaitGroup counter"
//   "sync: WaitGroup misuse: Add called concurrently with Wait" (where detectable)
//   "sync: WaitGroup is reused before previous Wait has returned"
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds n (may be negative) to the counter; when it reaches zero, releases every waiter.
  // Any thread. The counter must stay within int32 range.
  void add(int64_t n);
  void done() { add(-1); }
  // Returns once the counter is zero: immediately from any thread if it is zero already,
  // otherwise parks the calling goroutine (fatal from outside one).
  void wait();

  // Forces the packed state (counter, waiters), to reach misuse states that only races produce.
  void set_state_for_test(int32_t counter, uint32_t waiters);

 private:
  // counter (signed, high 32 bits) << 32 | waiters (low 32 bits): one word, so add() sees the
  // counter and the waiters consistently without a lock.
  std::atomic<uint64_t> state_{0};
  sync_internal::Sema sema_;  // waiters park here; released once per waiter at zero
};

}  // namespace spindle::runtime
