// Block and mutex profiles: off by default; with Go's rates on, a goroutine that waited on a
// channel shows with its own stack, and the goroutine whose unlock released a waiter shows in
// the mutex profile. SPINDLE_DEBUG turns both on.
#include "runtime/profile/wait_profile.h"

#include <gtest/gtest.h>

#include <chrono>

#include "base/thread_annotations.h"
#include "runtime/channel.h"
#include "runtime/profile/frames.h"
#include "runtime/runtime.h"
#include "runtime/schedtrace.h"
#include "runtime/scheduler.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/wait_group.h"
#include "runtime/time.h"

namespace spindle::runtime {
namespace {

using namespace std::chrono_literals;

bool returns_into(uintptr_t pc, const void* fn) {
  const auto start = reinterpret_cast<uintptr_t>(fn);
  return pc > start && pc - start < 2048;
}

// The record whose stack passes through fn, or null.
const WaitRecord* find(const std::vector<WaitRecord>& records, const void* fn) {
  for (const WaitRecord& r : records) {
    for (uintptr_t pc : r.pcs) {
      if (returns_into(pc, fn)) return &r;
    }
  }
  return nullptr;
}

Chan<int>* g_chan = nullptr;

// keep_frame: without it, a call in tail position would be a jump, and the function would
// not be on the stack to find.
__attribute__((noinline)) void wait_while_off() {
  (void)g_chan->recv();
  keep_frame();
}
__attribute__((noinline)) void wait_on_channel() {
  (void)g_chan->recv();
  keep_frame();
}

TEST(WaitProfile, BlockProfileRecordsAChannelWaitWithItsStack) {
  Runtime rt(Options{.procs = 2});
  rt.run([] {
    Chan<int> c = make_chan<int>();
    g_chan = &c;
    WaitGroup wg;
    wg.add(1);
    go([&] {
      wait_while_off();  // off by default: not recorded
      wg.done();
    });
    sleep_for(5ms);
    c.send(1);
    wg.wait();
    EXPECT_EQ(find(block_profile(), reinterpret_cast<const void*>(&wait_while_off)), nullptr);

    set_block_profile_rate(1);
    wg.add(1);
    go([&] {
      wait_on_channel();
      wg.done();
    });
    sleep_for(5ms);
    c.send(2);
    wg.wait();
    set_block_profile_rate(0);
    const std::vector<WaitRecord> records = block_profile();
    const WaitRecord* r = find(records, reinterpret_cast<const void*>(&wait_on_channel));
    ASSERT_NE(r, nullptr);
    EXPECT_GE(r->count, 1);
    EXPECT_GT(r->delay_ns, 0);
  });
}

// A park whose unlock function declines resumes at once: the goroutine never blocked.
__attribute__((noinline)) void park_declined() {
  park(
      WaitReason::kChanReceive, [](Goroutine*, void*) { return false; }, nullptr);
  keep_frame();
}

TEST(WaitProfile, AParkThatDeclinedIsNoBlockingEvent) {
  Runtime rt(Options{.procs = 1});
  rt.run([] {
    set_block_profile_rate(1);
    park_declined();
    set_block_profile_rate(0);
    EXPECT_EQ(find(block_profile(), reinterpret_cast<const void*>(&park_declined)), nullptr);
  });
}

Mutex* g_mu = nullptr;

// Unlocks what the test locked: the lock is handed across functions, which -Wthread-safety
// cannot follow.
__attribute__((noinline)) void unlock_contended() NO_THREAD_SAFETY_ANALYSIS {
  g_mu->unlock();
  keep_frame();
}

TEST(WaitProfile, MutexProfileRecordsTheUnlockThatReleasedAWaiter) {
  Runtime rt(Options{.procs = 2});
  rt.run([]() NO_THREAD_SAFETY_ANALYSIS {
    Mutex mu;
    g_mu = &mu;
    EXPECT_EQ(set_mutex_profile_fraction(1), 0);
    EXPECT_EQ(set_mutex_profile_fraction(-1), 1);  // reads only
    // A round records an event only if the waiter parked before the unlock; it nearly always
    // does within the millisecond, and the loop is bounded only to end a broken run.
    const void* fn = reinterpret_cast<const void*>(&unlock_contended);
    for (int round = 0; round < 2000 && find(mutex_profile(), fn) == nullptr; ++round) {
      mu.lock();
      WaitGroup wg;
      wg.add(1);
      go([&] {
        mu.lock();
        mu.unlock();
        wg.done();
      });
      sleep_for(1ms);
      unlock_contended();
      wg.wait();
    }
    set_mutex_profile_fraction(0);
    const std::vector<WaitRecord> records = mutex_profile();
    const WaitRecord* r = find(records, fn);
    ASSERT_NE(r, nullptr);
    EXPECT_GE(r->count, 1);
  });
}

TEST(WaitProfile, SpindleDebugKeysTurnThemOn) {
  std::string warnings;
  DebugSettings d =
      parse_debug_settings("blockprofilerate=10000,mutexprofilefraction=5", &warnings);
  EXPECT_EQ(d.blockprofilerate, 10000);
  EXPECT_EQ(d.mutexprofilefraction, 5);
  EXPECT_EQ(warnings, "");
  d = parse_debug_settings("blockprofilerate=-1,mutexprofilefraction=x", &warnings);
  EXPECT_EQ(d.blockprofilerate, 0);
  EXPECT_EQ(d.mutexprofilefraction, 0);
  EXPECT_NE(warnings.find("\"blockprofilerate=-1\""), std::string::npos) << warnings;

  setenv("SPINDLE_DEBUG", "blockprofilerate=1000,mutexprofilefraction=3", 1);
  {
    Runtime rt(Options{.procs = 1});
    EXPECT_EQ(block_profile_rate(), 1000);
    EXPECT_EQ(set_mutex_profile_fraction(-1), 3);
  }
  unsetenv("SPINDLE_DEBUG");
  set_block_profile_rate(0);
  set_mutex_profile_fraction(0);
}

}  // namespace
}  // namespace spindle::runtime
