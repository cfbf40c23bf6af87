// Helpers shared by the sync tests (src/runtime/sync/*_test.cc): spawning a group of
// goroutines and joining them, bounded waits that fail a test instead of hanging it, and busy
// work that keeps a thread (not just a goroutine) occupied.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>

#include "runtime/runtime.h"
#include "runtime/sync/rw_mutex.h"
#include "runtime/sync/wait_group.h"

namespace spindle::runtime::testing {

// Runs body(i) for i in [0, n), each in its own goroutine, and returns when all have
// returned. Call from a goroutine.
inline void run_goroutines(int n, const std::function<void(int)>& body) {
  WaitGroup wg;
  wg.add(n);
  for (int i = 0; i < n; ++i) {
    go([&wg, &body, i] {
      body(i);
      wg.done();
    });
  }
  wg.wait();
}

// A point in time a test gives up at, so a broken primitive fails the test instead of hanging
// it. Generous on purpose: sanitizer builds on two shared cores are slow.
class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds budget)
      : end_(std::chrono::steady_clock::now() + budget) {}
  bool expired() const { return std::chrono::steady_clock::now() >= end_; }

 private:
  std::chrono::steady_clock::time_point end_;
};

// Keeps the calling thread busy for d without parking or yielding (work done under a lock).
inline void busy_for(std::chrono::microseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

// Yields until pred() holds or the deadline passes; returns pred().
template <typename Pred>
bool yield_until(Pred pred, std::chrono::milliseconds budget = std::chrono::seconds(10)) {
  Deadline deadline(budget);
  while (!pred()) {
    if (deadline.expired()) return false;
    yield();
  }
  return true;
}

// The RWMutex exclusion workload: `writers` goroutines bump two counters together under the
// write lock (yielding between the two every `yield_every` iterations), `readers` goroutines
// check under the read lock that they are equal. Call from a goroutine.
struct RWExclusionResult {
  int torn_reads = 0;  // reads that saw a writer half-way: must be 0
  int64_t writes = 0;  // must be writers * iterations
};
inline RWExclusionResult run_rw_exclusion(int writers, int readers, int iterations,
                                          int yield_every) {
  RWMutex mu;
  int64_t a = 0;
  int64_t b = 0;
  std::atomic<int> torn{0};
  run_goroutines(writers + readers, [&](int id) {
    for (int i = 0; i < iterations; ++i) {
      if (id < writers) {
        std::unique_lock<RWMutex> lock(mu);
        ++a;
        if (i % yield_every == 0) yield();
        ++b;
      } else {
        std::shared_lock<RWMutex> lock(mu);
        if (a != b) torn.fetch_add(1);
        if (i % yield_every == 0) yield();
      }
    }
  });
  return {torn.load(), a == b ? a : -1};
}

}  // namespace spindle::runtime::testing
