// RWMutex protocol (Go's), in terms of readers_ (R) and departing_ (D):
//   1. lock_shared: R += 1. If R went negative, a writer holds or waits: park on reader_sema_.
//   2. lock: take writer_mu_, then R -= kMaxReaders (R is now negative: step 1 parks new
//      readers). The readers counted in R before that are inside; D += their number, and if D
//      is then non-zero, park on writer_sema_.
//   3. unlock_shared: R -= 1. If R is negative a writer waits: D -= 1, and the reader that
//      brings D to 0 releases writer_sema_.
//   4. unlock: R += kMaxReaders; R is now the readers that queued in step 1 meanwhile: release
//      reader_sema_ that many times, then unlock writer_mu_ for the next writer.
#include "runtime/sync/rw_mutex.h"

#include "base/check.h"

namespace spindle::runtime {

void RWMutex::lock_shared() {
  if (readers_.fetch_add(1) + 1 < 0) {
    reader_sema_.acquire(WaitReason::kSyncRWMutexLock, false, "sync: RWMutex.lock_shared");
  }
}

bool RWMutex::try_lock_shared() {
  int32_t r = readers_.load();
  while (r >= 0) {
    if (readers_.compare_exchange_weak(r, r + 1)) return true;
  }
  return false;
}

void RWMutex::unlock_shared() {
  const int32_t r = readers_.fetch_sub(1) - 1;
  if (r < 0) unlock_shared_slow(r);
}

void RWMutex::unlock_shared_slow(int32_t r) {
  if (r + 1 == 0 || r + 1 == -kMaxReaders) SPINDLE_FATAL("sync: RUnlock of unlocked RWMutex");
  // A writer waits; the last of the readers it waits for lets it in.
  if (departing_.fetch_sub(1) - 1 == 0) writer_sema_.release(false);
}

void RWMutex::lock() NO_THREAD_SAFETY_ANALYSIS {
  writer_mu_.lock();
  const int32_t r = readers_.fetch_sub(kMaxReaders);  // readers inside, announcing us
  if (r != 0 && departing_.fetch_add(r) + r != 0) {
    writer_sema_.acquire(WaitReason::kSyncRWMutexLock, false, "sync: RWMutex.lock");
  }
}

bool RWMutex::try_lock() NO_THREAD_SAFETY_ANALYSIS {
  if (!writer_mu_.try_lock()) return false;
  int32_t none = 0;
  if (!readers_.compare_exchange_strong(none, -kMaxReaders)) {
    writer_mu_.unlock();
    return false;
  }
  return true;
}

void RWMutex::unlock() NO_THREAD_SAFETY_ANALYSIS {
  const int32_t r = readers_.fetch_add(kMaxReaders) + kMaxReaders;
  if (r >= kMaxReaders) SPINDLE_FATAL("sync: Unlock of unlocked RWMutex");
  for (int32_t i = 0; i < r; ++i) reader_sema_.release(false);
  writer_mu_.unlock();
}

}  // namespace spindle::runtime
