#include "runtime/sync/semaphore.h"

#include <string>

#include "base/check.h"
#include "runtime/scheduler.h"

namespace spindle::runtime {

using sync_internal::Waiter;
using sync_internal::WaitQueue;

Semaphore::Semaphore(int64_t n) : size_(n) {
  SPINDLE_CHECK(n >= 0, "sync: Semaphore of negative size");
}

void Semaphore::acquire(int64_t k) {
  SPINDLE_CHECK(k >= 0, "sync: Semaphore.acquire of a negative weight");
  if (k > size_) {
    SPINDLE_FATAL("sync: Semaphore.acquire(" + std::to_string(k) + ") exceeds its size " +
                  std::to_string(size_) + ": it would wait forever");
  }
  queue_.lock();
  if (size_ - held_ >= k && queue_.empty()) {
    held_ += k;
    queue_.unlock();
    return;
  }
  Waiter w;
  w.g = current("sync: Semaphore.acquire");
  w.weight = k;
  queue_.push_back(&w);
  // release() adds our weight to held_ before it wakes us: the tokens are ours on return.
  queue_.park(&w, WaitReason::kSemacquire);
}

bool Semaphore::try_acquire(int64_t k) {
  SPINDLE_CHECK(k >= 0, "sync: Semaphore.try_acquire of a negative weight");
  queue_.lock();
  const bool ok = size_ - held_ >= k && queue_.empty();
  if (ok) held_ += k;
  queue_.unlock();
  return ok;
}

void Semaphore::release(int64_t k) {
  SPINDLE_CHECK(k >= 0, "sync: Semaphore.release of a negative weight");
  queue_.lock();
  held_ -= k;
  if (held_ < 0) {
    queue_.unlock();
    SPINDLE_FATAL("sync: Semaphore released more than held");
  }
  // Serve waiters in order while the head fits. Stop at the first that does not: skipping it
  // for a smaller one behind would starve large requests under load.
  Waiter* woken = nullptr;
  Waiter** tail = &woken;
  while (Waiter* w = queue_.front()) {
    if (size_ - held_ < w->weight) break;
    held_ += w->weight;
    *tail = queue_.pop_front();
    tail = &(*tail)->next;
  }
  queue_.unlock();
  WaitQueue::wake_all(woken);
}

size_t Semaphore::waiters_for_test() {
  queue_.lock();
  size_t n = 0;
  for (Waiter* w = queue_.front(); w; w = w->next) ++n;
  queue_.unlock();
  return n;
}

}  // namespace spindle::runtime
