#include "runtime/sync/sema.h"

#include "runtime/profile/frames.h"
#include "runtime/profile/wait_profile.h"
#include "runtime/runtime.h"
#include "runtime/scheduler.h"

namespace spindle::runtime::sync_internal {

void Sema::acquire(WaitReason reason, bool lifo, const char* what) {
  queue_.lock();
  if (count_ > 0) {
    --count_;
    queue_.unlock();
    return;
  }
  Waiter w;
  w.g = current(what);
  if (lifo) {
    queue_.push_front(&w);
  } else {
    queue_.push_back(&w);
  }
  // release() pops us and passes the count to us directly: nothing to retry on wakeup.
  queue_.park(&w, reason);
}

void Sema::release(bool handoff) {
  queue_.lock();
  Waiter* w = queue_.pop_front();
  if (w == nullptr) {
    ++count_;
    queue_.unlock();  // last touch of *this
    return;
  }
  // For the mutex profile: when the waiter parked (0 unless timed), and on what. Read before
  // wake(): w and its goroutine's park are ours only until then.
  const int64_t since = w->g->blocked_at;
  const WaitReason reason = w->g->wait_reason;
  queue_.unlock();
  WaitQueue::wake(w);  // w is parked until this ready(): still valid
  if (since != 0) [[unlikely]] {
    mutex_profile_release(since, reason);
    keep_frame();  // the mutex profile's stacks start in this frame
  }
  // Let the new owner run at once instead of leaving it queued behind us (Go's goyield).
  if (handoff && in_goroutine()) yield();
}

}  // namespace spindle::runtime::sync_internal
