// Block and mutex profiles (wait_profile.h), after Go's mprof.go.
//
// A park with a reason either profile counts (wait_profile_begin) stamps g->blocked_at; the
// waker that makes the goroutine runnable stamps g->unblocked_at (make_runnable), so the
// delay is the time blocked, not the time then spent in a run queue (Go's releasetime). The
// goroutine itself records the block event when it runs again (wait_profile_end), with its own
// stack. A Mutex or RWMutex unlock that hands the semaphore to a waiter (Sema::release) records
// the waiter's delay so far at the unlocker's stack: the mutex profile shows who held the lock
// others waited for (Go's semrelease1 and mutexevent).
#include "runtime/profile/wait_profile.h"

#include <algorithm>
#include <unordered_map>

#include "base/thread_annotations.h"
#include "base/thread_mutex.h"
#include "runtime/profile/frames.h"
#include "runtime/runtime.h"
#include "runtime/scheduler.h"
#include "runtime/timer.h"

namespace spindle::runtime {
namespace {

std::atomic<int64_t> g_block_rate{0};
std::atomic<int> g_mutex_rate{0};

void update_on() {
  wait_profile_internal::g_on.store(g_block_rate.load() > 0 || g_mutex_rate.load() > 0,
                                    std::memory_order_relaxed);
}

// Go records blocking in channel operations, select and sync; spindle adds the netpoller.
// Sleeping, a nil channel or an empty select (parked forever) are not blocking events.
bool counts_for_block(WaitReason r) {
  switch (r) {
    case WaitReason::kChanReceive:
    case WaitReason::kChanSend:
    case WaitReason::kSelect:
    case WaitReason::kSyncMutexLock:
    case WaitReason::kSyncRWMutexLock:
    case WaitReason::kSyncWaitGroupWait:
    case WaitReason::kSyncCondWait:
    case WaitReason::kSemacquire:
    case WaitReason::kIOWait:
      return true;
    default:
      return false;
  }
}

bool counts_for_mutex(WaitReason r) {
  return r == WaitReason::kSyncMutexLock || r == WaitReason::kSyncRWMutexLock;
}

struct StackHash {
  size_t operator()(const std::vector<uintptr_t>& pcs) const {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uintptr_t pc : pcs) h = (h ^ pc) * 0x100000001B3ull;
    return static_cast<size_t>(h);
  }
};

struct Bucket {
  double count = 0;  // a double: bias correction adds rate/delay per sampled short event
  int64_t delay = 0;
};

struct Table {
  base::ThreadMutex mu;
  std::unordered_map<std::vector<uintptr_t>, Bucket, StackHash> buckets GUARDED_BY(mu);
};

Table& block_table() {
  static Table* t = new Table;  // never destroyed: goroutines may record during exit
  return *t;
}

Table& mutex_table() {
  static Table* t = new Table;
  return *t;
}

// Adds an event at the stack of record's caller's caller (the function that parked, or that
// released). Not inlined, so the frames to skip are known.
__attribute__((noinline)) void record(Table& t, double count, int64_t delay) {
  uintptr_t pcs[kMaxProfileDepth];
  const int n = goroutine_stack(1, pcs, kMaxProfileDepth);
  if (n == 0) return;
  base::ThreadMutexLock l(t.mu);
  Bucket& b = t.buckets[std::vector<uintptr_t>(pcs, pcs + n)];
  b.count += count;
  b.delay += delay;
}

// Uniform in [0, n) for n up to 2^63.
int64_t rand_below(int64_t n) {
  const uint64_t r = (static_cast<uint64_t>(fastrand()) << 32) | fastrand();
  return static_cast<int64_t>(r % static_cast<uint64_t>(n));
}

std::vector<WaitRecord> snapshot(Table& t) {
  std::vector<WaitRecord> out;
  {
    base::ThreadMutexLock l(t.mu);
    out.reserve(t.buckets.size());
    for (const auto& [pcs, b] : t.buckets) {
      out.push_back(WaitRecord{pcs, static_cast<int64_t>(b.count), b.delay});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const WaitRecord& a, const WaitRecord& b) { return a.delay_ns > b.delay_ns; });
  return out;
}

}  // namespace

void set_block_profile_rate(int64_t rate_ns) {
  g_block_rate.store(rate_ns > 0 ? rate_ns : 0);
  update_on();
}

int64_t block_profile_rate() { return g_block_rate.load(); }

int set_mutex_profile_fraction(int rate) {
  if (rate < 0) return g_mutex_rate.load();
  const int old = g_mutex_rate.exchange(rate);
  update_on();
  return old;
}

int64_t wait_profile_begin(WaitReason reason) {
  if ((g_block_rate.load(std::memory_order_relaxed) > 0 && counts_for_block(reason)) ||
      (g_mutex_rate.load(std::memory_order_relaxed) > 0 && counts_for_mutex(reason))) {
    return now_ns();
  }
  return 0;
}

void wait_profile_end(Goroutine* g, WaitReason reason) {
  const int64_t since = g->blocked_at;
  const int64_t released = g->unblocked_at;
  g->blocked_at = 0;
  g->unblocked_at = 0;
  // No waker stamped it: the park's unlock function declined (the wait was already over, e.g.
  // readiness arrived first), so the goroutine never blocked.
  if (released == 0) return;
  const int64_t rate = g_block_rate.load(std::memory_order_relaxed);
  if (rate <= 0 || !counts_for_block(reason)) return;
  const int64_t delay = std::max<int64_t>(released - since, 1);
  if (rate > delay && rand_below(rate) > delay) return;  // Go's blocksampled
  if (delay < rate) {
    record(block_table(), static_cast<double>(rate) / static_cast<double>(delay), rate);
  } else {
    record(block_table(), 1, delay);
  }
  keep_frame();  // record skips this frame: it must exist
}

void mutex_profile_release(int64_t since, WaitReason reason) {
  const int rate = g_mutex_rate.load(std::memory_order_relaxed);
  if (rate <= 0 || !counts_for_mutex(reason) || !in_goroutine()) return;
  if (rand_below(rate) != 0) return;  // Go's mutexevent: 1 in rate
  record(mutex_table(), 1, std::max<int64_t>(now_ns() - since, 0));
  keep_frame();  // record skips this frame: it must exist
}

std::vector<WaitRecord> block_profile() { return snapshot(block_table()); }
std::vector<WaitRecord> mutex_profile() { return snapshot(mutex_table()); }

}  // namespace spindle::runtime
