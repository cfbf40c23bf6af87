// Slot hand-off. A releasing request that sees waiters offers its slot on an unbuffered
// channel; a parked waiter takes it and in_flight_ does not change. If nobody is parked yet
// (a waiter between its last try_take and its select), the offer fails and the slot is
// returned to the count; the waiter then waits for the next release or its deadline. That
// window costs a waiter at most queue_wait, never a lost slot.
#include "lb/admission.h"

#include "runtime/select.h"

namespace spindle::lb {

Admission::Admission(std::int64_t limit, runtime::Duration queue_wait)
    : limit_(limit), queue_wait_(queue_wait) {}

bool Admission::try_take() {
  std::int64_t n = in_flight_.load(std::memory_order_relaxed);
  while (n < limit_) {
    if (in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_acquire)) return true;
  }
  return false;
}

bool Admission::admit() {
  if (limit_ <= 0) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  if (try_take()) return true;
  queued_.fetch_add(1, std::memory_order_relaxed);
  waiting_.fetch_add(1, std::memory_order_seq_cst);
  bool admitted = try_take();
  if (!admitted && queue_wait_ > runtime::Duration::zero()) {
    runtime::Timer deadline(queue_wait_);  // stopped on return, unlike after()'s timer
    runtime::Select s;
    std::optional<bool> slot;
    std::optional<runtime::TimePoint> fired;
    int got = s.recv(handoff_, &slot);
    s.recv(deadline.c(), &fired);
    admitted = s.wait() == got;
  }
  waiting_.fetch_sub(1, std::memory_order_seq_cst);
  if (!admitted) rejected_.fetch_add(1, std::memory_order_relaxed);
  return admitted;
}

void Admission::release() {
  if (limit_ > 0 && waiting_.load(std::memory_order_seq_cst) > 0 && handoff_.try_send(true)) {
    return;  // the slot went to a waiter
  }
  in_flight_.fetch_sub(1, std::memory_order_release);
}

}  // namespace spindle::lb
