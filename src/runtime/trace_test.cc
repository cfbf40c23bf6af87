// The tracer's ring protocol under load: traces started, drained and stopped over and over
// while goroutines are created, park, are readied and stolen on 4 Ps, with a race hook that
// delays writers between filling a slot and publishing it and the collector between copying
// and freeing slots. Run under TSan and ASan (label stress).
#include "runtime/trace.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/channel.h"
#include "runtime/race_hook.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"
#include "runtime/time.h"

namespace spindle::runtime {
namespace {

void delay_some(RacePoint point, const void*) {
  if (point != RacePoint::kTraceRecord && point != RacePoint::kTraceDrain) return;
  if (testing::thread_rand() % 8 == 0) testing::spin_ns(testing::thread_rand() % 2000);
}

// Goroutines that ping-pong in pairs and spawn short-lived ones until `stop`.
void churn(std::atomic<bool>& stop, WaitGroup& wg) {
  for (int pair = 0; pair < 4; ++pair) {
    Chan<int> ping = make_chan<int>(0);
    Chan<int> pong = make_chan<int>(0);
    wg.add(2);
    go([&stop, &wg, ping, pong]() mutable {
      while (!stop.load(std::memory_order_relaxed)) {
        ping.send(1);
        (void)pong.recv();
        go([] {});
      }
      ping.close();
      wg.done();
    });
    go([&wg, ping, pong]() mutable {
      while (ping.recv()) pong.send(1);
      wg.done();
    });
  }
}

TEST(TraceStress, StartDrainStopWhileScheduling) {
  set_race_hook_for_test(delay_some);
  Runtime rt(Options{.procs = 4});
  std::atomic<bool> stop{false};
  std::atomic<bool> collector_done{false};
  uint64_t total = 0;
  uint64_t dropped = 0;
  std::thread collector([&] {
    for (int round = 0; round < 24; ++round) {
      // Caps keep the collector's copying short under sanitizers; a tiny one every few rounds
      // runs the cap's drop path.
      auto s = trace::Session::start(round % 4 == 3 ? 100 : 20'000);
      if (s == nullptr) {
        ADD_FAILURE() << "a trace could not start";
        break;
      }
      EXPECT_EQ(trace::Session::start(), nullptr) << "only one trace at a time";
      for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
        s->drain();
      }
      trace::Trace t = s->stop();
      if (round % 4 == 3) {
        EXPECT_LE(t.events.size(), 100u);
      }
      size_t bad = 0;
      for (const trace::Event& e : t.events) {
        bad += e.ts < t.start_ns || e.ts > t.end_ns ||
               static_cast<int>(e.type) > static_cast<int>(trace::EventType::kMWake) || e.p >= 4;
      }
      EXPECT_EQ(bad, 0u) << "events out of the trace's time or with impossible fields";
      total += t.events.size();
      dropped += t.dropped;
    }
    collector_done = true;
  });
  rt.run([&] {
    WaitGroup wg;
    churn(stop, wg);
    while (!collector_done.load()) sleep_for(std::chrono::milliseconds(1));
    stop = true;
    wg.wait();
  });
  collector.join();
  set_race_hook_for_test(nullptr);
  EXPECT_GT(total, 0u);
  EXPECT_GT(dropped, 0u) << "the capped rounds drop";
}

// A trace with nothing running in between still starts and stops cleanly, and events from
// before a start never show up in it.
TEST(TraceStress, NoEventsFromBeforeTheStart) {
  Runtime rt(Options{.procs = 2});
  rt.run([&] {
    for (int i = 0; i < 100; ++i) go([] {});
    auto s = trace::Session::start();
    ASSERT_NE(s, nullptr);
    trace::Trace t = s->stop();
    for (const trace::Event& e : t.events) EXPECT_GE(e.ts, t.start_ns);
  });
}

}  // namespace
}  // namespace spindle::runtime
