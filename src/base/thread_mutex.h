// ThreadMutex: std::mutex with clang thread-safety annotations, for runtime-internal state that
// OS threads (not goroutines) lock: it blocks the thread. Goroutines use runtime::Mutex.
#pragma once

#include <mutex>

#include "base/thread_annotations.h"

namespace spindle::base {

class CAPABILITY("mutex") ThreadMutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

// Scoped lock that may be released early and taken again (like std::unique_lock).
class SCOPED_CAPABILITY ThreadMutexLock {
 public:
  explicit ThreadMutexLock(ThreadMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~ThreadMutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  void unlock() RELEASE() {
    held_ = false;
    mu_.unlock();
  }
  void lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }
  ThreadMutexLock(const ThreadMutexLock&) = delete;
  ThreadMutexLock& operator=(const ThreadMutexLock&) = delete;

 private:
  ThreadMutex& mu_;
  bool held_ = true;
};

}  // namespace spindle::base
