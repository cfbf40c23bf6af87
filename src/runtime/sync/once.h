// Once: runs a function exactly once (Go's sync.Once). Concurrent callers park until that
// first call has finished, so every caller returns after its effects.
#pragma once

#include <atomic>
#include <utility>

#include "runtime/sync/mutex.h"

namespace spindle::runtime {

class Once {
 public:
  Once() = default;
  // A caller that saw done() may destroy the Once while the first caller is still unlocking
  // mu_: wait for that unlock to finish (parks in that rare race: needs a goroutine then).
  ~Once() {
    mu_.lock();
    mu_.unlock();
  }
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  // Calls f() if no call() on this Once has run one yet; otherwise waits for that call to
  // finish (parking: needs a goroutine if it must wait) and returns without calling f. If f
  // exits by an exception, the Once still counts as done (as Go treats a panic). f must not
  // call call() on the same Once: that deadlocks.
  template <typename F>
  void call(F&& f) {
    if (done_.load(std::memory_order_acquire)) return;  // fast path: one load
    call_slow(std::forward<F>(f));
  }

  bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  template <typename F>
  void call_slow(F&& f) {
    MutexLock lock(mu_);
    if (done_.load(std::memory_order_relaxed)) return;
    struct MarkDone {
      std::atomic<bool>& done;
      ~MarkDone() { done.store(true, std::memory_order_release); }
    } mark{done_};
    std::forward<F>(f)();
  }

  std::atomic<bool> done_{false};
  Mutex mu_;  // held while f runs; late callers park on it
};

}  // namespace spindle::runtime
