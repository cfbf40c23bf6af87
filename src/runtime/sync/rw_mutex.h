// RWMutex: a goroutine-aware reader/writer lock (Go's sync.RWMutex). Writer-preferring: once a
// writer waits, new readers queue behind it, so a stream of readers cannot starve writers.
// Built on Mutex (writers exclude each other) and two Semas (readers wait for the writer, the
// writer waits for the readers already inside). docs/runtime.md, "Sync".
#pragma once

#include <atomic>
#include <cstdint>

#include "base/thread_annotations.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/sema.h"

namespace spindle::runtime {

// Satisfies Lockable and SharedLockable (std::unique_lock, std::shared_lock). Not owned: any
// goroutine may unlock. A reader must not lock_shared again while holding it if a writer may
// be waiting (the second lock_shared waits behind the writer: deadlock), as in Go.
class CAPABILITY("mutex") RWMutex {
 public:
  RWMutex() = default;
  // A reader that got in through a concurrent unlock() may see the lock free and destroy it
  // while that unlock() still has to unlock writer_mu_: wait for it (parks only in that race,
  // which then needs a goroutine).
  ~RWMutex() {
    writer_mu_.lock();
    writer_mu_.unlock();
  }
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  // Exclusive lock. Waits for other writers, then for the readers already inside; parks
  // (needs a goroutine) when it must wait.
  void lock() ACQUIRE();
  bool try_lock() TRY_ACQUIRE(true);
  // Fatal "sync: Unlock of unlocked RWMutex" if not write-locked.
  void unlock() RELEASE();

  // Shared lock: waits only while a writer holds or waits for the lock.
  void lock_shared() ACQUIRE_SHARED();
  bool try_lock_shared() TRY_ACQUIRE_SHARED(true);
  // Fatal "sync: RUnlock of unlocked RWMutex" if not read-locked.
  void unlock_shared() RELEASE_SHARED();

  // More readers than this at once is a fatal error (Go's rwmutexMaxReaders).
  static constexpr int32_t kMaxReaders = 1 << 30;

 private:
  void unlock_shared_slow(int32_t readers);

  Mutex writer_mu_;                  // held by the writer for the whole write section
  sync_internal::Sema writer_sema_;  // the writer waits here for departing readers
  sync_internal::Sema reader_sema_;  // readers wait here for the writer to finish
  // Readers inside or waiting; kMaxReaders is subtracted while a writer holds or waits.
  std::atomic<int32_t> readers_{0};
  // Readers the waiting writer still waits for (those inside when it announced itself).
  std::atomic<int32_t> departing_{0};
};

}  // namespace spindle::runtime
