#include "runtime/sync/sema.h"

#include "runtime/runtime.h"
#include "runtime/scheduler.h"

namespace spindle::runtime::sync_internal {

bool Sema::try_take() {
  uint32_t v = count_.load();
  while (v != 0) {
    if (count_.compare_exchange_weak(v, v - 1)) return true;
  }
  return false;
}

void Sema::acquire(WaitReason reason, bool lifo, const char* what) {
  if (try_take()) return;
  Waiter w;
  w.g = current(what);
  for (;;) {
    queue_.lock();
    // Announce the wait before the final check: release() increments count_ before it reads
    // nwait_ (both sequentially consistent), so one of the two sides sees the other.
    nwait_.fetch_add(1);
    if (try_take()) {
      nwait_.fetch_sub(1);
      queue_.unlock();
      return;
    }
    if (lifo) {
      queue_.push_front(&w);
    } else {
      queue_.push_back(&w);
    }
    queue_.park(&w, reason);
    // Woken: either the releaser took the count for us, or we compete for it again.
    if (w.granted.load(std::memory_order_acquire) || try_take()) return;
  }
}

void Sema::release(bool handoff) {
  count_.fetch_add(1);
  if (nwait_.load() == 0) return;
  queue_.lock();
  if (nwait_.load() == 0) {  // someone took the count and left before we locked
    queue_.unlock();
    return;
  }
  Waiter* w = queue_.pop_front();
  nwait_.fetch_sub(1);
  queue_.unlock();
  const bool handed = handoff && try_take();
  if (handed) w->granted.store(true, std::memory_order_release);
  WaitQueue::wake(w);
  // Let the new owner run at once instead of leaving it queued behind us (Go's goyield).
  if (handed && in_goroutine()) yield();
}

}  // namespace spindle::runtime::sync_internal
