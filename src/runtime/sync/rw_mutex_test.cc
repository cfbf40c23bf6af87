#include "runtime/sync/rw_mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <shared_mutex>

#include "runtime/runtime.h"
#include "runtime/sync/test_util.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

using testing::Deadline;
using testing::run_goroutines;
using testing::yield_until;

class RWMutexTest : public testing::RuntimeTest {};

TEST_P(RWMutexTest, ReadersHoldTheLockTogether) {
  run([] {
    constexpr int kReaders = 4;
    RWMutex mu;
    std::atomic<int> inside{0};
    std::atomic<int> saw_all{0};
    run_goroutines(kReaders, [&](int) {
      std::shared_lock<RWMutex> lock(mu);
      inside.fetch_add(1);
      // Every reader stays inside until all are: only possible if they share the lock.
      if (yield_until([&] { return inside.load() == kReaders; })) saw_all.fetch_add(1);
    });
    EXPECT_EQ(saw_all.load(), kReaders);
  });
}

TEST_P(RWMutexTest, TryLockRespectsBothModes) {
  run([] {
    RWMutex mu;
    ASSERT_TRUE(mu.try_lock_shared());
    EXPECT_TRUE(mu.try_lock_shared());
    EXPECT_FALSE(mu.try_lock());
    mu.unlock_shared();
    mu.unlock_shared();
    ASSERT_TRUE(mu.try_lock());
    EXPECT_FALSE(mu.try_lock());
    EXPECT_FALSE(mu.try_lock_shared());
    mu.unlock();
    std::unique_lock<RWMutex> lock(mu);
    EXPECT_TRUE(lock.owns_lock());
  });
}

// Writers update two fields that readers must always see equal; the final count is exact.
TEST_P(RWMutexTest, WriterExcludesReadersAndWriters) {
  run([] {
    const auto result = testing::run_rw_exclusion(4, 4, 300, /*yield_every=*/16);
    EXPECT_EQ(result.torn_reads, 0);
    EXPECT_EQ(result.writes, 4 * 300);
  });
}

// Readers overlap so that some reader always holds the lock; a reader-preferring lock would
// starve the writer. The writer needs 10 acquisitions before the readers' deadline.
TEST_P(RWMutexTest, WriterIsNotStarvedByOverlappingReaders) {
  run([] {
    constexpr int kReaders = 4;
    constexpr int kWrites = 10;
    RWMutex mu;
    std::atomic<bool> writer_done{false};
    std::atomic<bool> readers_timed_out{false};
    std::atomic<int> writes{0};
    run_goroutines(kReaders + 1, [&](int id) {
      if (id == kReaders) {
        for (int i = 0; i < kWrites; ++i) {
          mu.lock();
          writes.fetch_add(1);
          mu.unlock();
        }
        writer_done = true;
        return;
      }
      Deadline deadline(std::chrono::seconds(20));
      while (!writer_done.load()) {
        if (deadline.expired()) {
          readers_timed_out = true;
          return;
        }
        mu.lock_shared();
        yield();  // hold it across a reschedule so readers overlap
        mu.unlock_shared();
      }
    });
    EXPECT_FALSE(readers_timed_out.load()) << "writer got the lock " << writes.load() << " times";
    EXPECT_EQ(writes.load(), kWrites);
  });
}

// Readers that arrive while a writer waits queue behind it and are all let in by unlock.
TEST_P(RWMutexTest, ReadersQueuedBehindAWriterAllGetIn) {
  run([] {
    constexpr int kReaders = 8;
    RWMutex mu;
    mu.lock();
    std::atomic<int> got_in{0};
    run_goroutines(kReaders + 1, [&](int id) {
      if (id == kReaders) {
        yield_until([&] { return false; }, std::chrono::milliseconds(20));  // let them queue
        mu.unlock();
        return;
      }
      std::shared_lock<RWMutex> lock(mu);
      got_in.fetch_add(1);
    });
    EXPECT_EQ(got_in.load(), kReaders);
  });
}

SPINDLE_INSTANTIATE_PROCS(RWMutexTest);

}  // namespace
}  // namespace spindle::runtime
