#include "runtime/sync/cond.h"

#include "runtime/scheduler.h"

namespace spindle::runtime {

void Cond::wait() {
  sync_internal::Waiter w;
  w.g = current("sync: Cond.wait");
  w.ticket = wait_.fetch_add(1);
  mu_.unlock();
  queue_.lock();
  if (w.ticket < notify_.load(std::memory_order_relaxed)) {
    queue_.unlock();  // signalled between our unlock and here
  } else {
    queue_.push_back(&w);
    queue_.park(&w, WaitReason::kSyncCondWait);
  }
  mu_.lock();
}

void Cond::signal() {
  if (wait_.load() == notify_.load()) return;  // nobody waits
  queue_.lock();
  const uint64_t ticket = notify_.load(std::memory_order_relaxed);
  if (ticket == wait_.load()) {
    queue_.unlock();
    return;
  }
  notify_.store(ticket + 1);
  // The ticket's owner may not have queued yet; then it sees notify_ > ticket and returns.
  sync_internal::Waiter* w = queue_.remove_ticket(ticket);
  queue_.unlock();
  if (w) sync_internal::WaitQueue::wake(w);
}

void Cond::broadcast() {
  if (wait_.load() == notify_.load()) return;
  queue_.lock();
  notify_.store(wait_.load());
  sync_internal::Waiter* chain = queue_.take_all();
  queue_.unlock();
  sync_internal::WaitQueue::wake_all(chain);
}

}  // namespace spindle::runtime
