#include "runtime/run_queue.h"

#include "base/check.h"

namespace spindle::runtime {

bool RunQueue::push_back(Goroutine* g) {
  uint32_t h = head_.load(std::memory_order_acquire);
  uint32_t t = tail_.load(std::memory_order_relaxed);
  if (t - h >= kSize) return false;
  slots_[t % kSize].store(g, std::memory_order_relaxed);
  tail_.store(t + 1, std::memory_order_release);  // publishes the slot and g's fields
  return true;
}

Goroutine* RunQueue::pop() {
  Goroutine* next = runnext_.load(std::memory_order_relaxed);
  if (next != nullptr &&
      runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acquire)) {
    return next;
  }
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    Goroutine* g = slots_[h % kSize].load(std::memory_order_relaxed);
    if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel)) return g;
  }
}

uint32_t RunQueue::take_half_for_overflow(Goroutine** out) {
  uint32_t h = head_.load(std::memory_order_acquire);
  uint32_t t = tail_.load(std::memory_order_relaxed);
  uint32_t n = (t - h) / 2;
  if (n != kSize / 2) return 0;  // thieves made room since push_back failed: push again
  for (uint32_t i = 0; i < n; ++i) out[i] = slots_[(h + i) % kSize].load(std::memory_order_relaxed);
  if (!head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return 0;
  return n;
}

// Copies half of the queue into out[0..n), then commits with a CAS on head_. Runs concurrently with
// the owner's push_back and pop and with other thieves.
uint32_t RunQueue::grab(Goroutine** out, bool take_runnext) {
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (!take_runnext) return 0;
      Goroutine* next = runnext_.load(std::memory_order_acquire);
      if (next == nullptr) return 0;
      if (!runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) continue;
      out[0] = next;
      return 1;
    }
    if (n > kSize / 2) continue;  // h and t read at different times; retry
    for (uint32_t i = 0; i < n; ++i) {
      out[i] = slots_[(h + i) % kSize].load(std::memory_order_relaxed);
    }
    if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel)) return n;
  }
}

Goroutine* RunQueue::steal_half_into(RunQueue& dst, bool take_runnext) {
  uint32_t t = dst.tail_.load(std::memory_order_relaxed);
  Goroutine* batch[kSize];
  uint32_t n = grab(batch, take_runnext);
  if (n == 0) return nullptr;
  Goroutine* g = batch[n - 1];
  if (--n == 0) return g;
  uint32_t h = dst.head_.load(std::memory_order_acquire);
  SPINDLE_CHECK(t - h + n <= kSize, "stealing into a run queue without room");
  for (uint32_t i = 0; i < n; ++i) {
    dst.slots_[(t + i) % kSize].store(batch[i], std::memory_order_relaxed);
  }
  dst.tail_.store(t + n, std::memory_order_release);
  return g;
}

uint32_t RunQueue::room() const {
  return kSize - (tail_.load(std::memory_order_relaxed) - head_.load(std::memory_order_acquire));
}

bool RunQueue::empty() const {
  // A goroutine moving between runnext and the ring must not look like an empty queue, so
  // read in the order Go's runqempty does and retry if the tail moved meanwhile.
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_acquire);
    Goroutine* next = runnext_.load(std::memory_order_acquire);
    if (tail_.load(std::memory_order_acquire) == t) return h == t && next == nullptr;
  }
}

uint32_t RunQueue::size() const {
  uint32_t h = head_.load(std::memory_order_acquire);
  uint32_t t = tail_.load(std::memory_order_acquire);
  return t - h + (runnext_.load(std::memory_order_relaxed) != nullptr ? 1 : 0);
}

}  // namespace spindle::runtime
