#include "runtime/sync/wait_group.h"

#include <limits>

#include "base/check.h"

namespace spindle::runtime {
namespace {

int32_t counter_of(uint64_t state) { return static_cast<int32_t>(state >> 32); }
uint32_t waiters_of(uint64_t state) { return static_cast<uint32_t>(state); }

}  // namespace

void WaitGroup::add(int64_t n) {
  SPINDLE_CHECK(
      n >= std::numeric_limits<int32_t>::min() && n <= std::numeric_limits<int32_t>::max(),
      "sync: WaitGroup delta out of range");
  const uint64_t delta = static_cast<uint64_t>(n) << 32;
  const uint64_t state = state_.fetch_add(delta) + delta;
  const int32_t counter = counter_of(state);
  const uint32_t waiters = waiters_of(state);
  if (counter < 0) SPINDLE_FATAL("sync: negative WaitGroup counter");
  // The counter just went from zero to n while goroutines wait: that add raced with a wait
  // that saw the old round finish.
  if (waiters != 0 && n > 0 && counter == n) {
    SPINDLE_FATAL("sync: WaitGroup misuse: Add called concurrently with Wait");
  }
  if (counter > 0 || waiters == 0) return;
  // Counter zero with waiters: nobody may change the state now (no add: the round is over;
  // no new wait: they would return at once). Reset it and release each waiter once.
  if (state_.load() != state) {
    SPINDLE_FATAL("sync: WaitGroup misuse: Add called concurrently with Wait");
  }
  state_.store(0);
  for (uint32_t i = 0; i < waiters; ++i) sema_.release(false);
}

void WaitGroup::wait() {
  uint64_t state = state_.load();
  for (;;) {
    if (counter_of(state) == 0) return;
    if (state_.compare_exchange_weak(state, state + 1)) break;  // state reloaded on failure
  }
  sema_.acquire(WaitReason::kSyncWaitGroupWait, false, "sync: WaitGroup.wait");
  if (state_.load() != 0) {
    SPINDLE_FATAL("sync: WaitGroup is reused before previous Wait has returned");
  }
}

void WaitGroup::set_state_for_test(int32_t counter, uint32_t waiters) {
  state_.store(static_cast<uint64_t>(static_cast<uint32_t>(counter)) << 32 | waiters);
}

}  // namespace spindle::runtime
