#include "lb/registry.h"

#include <gtest/gtest.h>

#include "base/time.h"
#include "http/client.h"
#include "runtime/testing.h"

namespace spindle::lb {
namespace {

using namespace std::chrono_literals;
using base::Clock;

class RegistryTest : public runtime::testing::RuntimeTest {};

BackendUrl url(int i) { return *parse_backend_url("http://127.0.0.1:" + std::to_string(9000 + i)); }

struct World {
  http::Client client;
  Registry registry;
  explicit World(RegistryOptions o)
      : registry(o, [this](const std::string& a) -> http::HostPool& { return client.pool(a); }) {}
};

// Marks every backend of the snapshot as having answered a request (only those count
// toward the panic threshold).
void answered_all(Registry& r) {
  for (const auto& b : r.snapshot()->backends) b->requests.store(1);
}

Backend* find(Registry& r, const BackendUrl& u) {
  for (const auto& b : r.snapshot()->backends) {
    if (b->url.url == u.url) return b.get();
  }
  return nullptr;
}

TEST_P(RegistryTest, RegisterTwiceIsAHeartbeat) {
  run([] {
    World w({});
    auto t0 = Clock::now();
    EXPECT_EQ(w.registry.add(url(1), "a", 1, false, t0), RegisterOutcome::kAdded);
    EXPECT_EQ(w.registry.add(url(1), "a", 1, false, t0 + 1s), RegisterOutcome::kRefreshed);
    EXPECT_EQ(w.registry.size(), 1u);
    EXPECT_EQ(w.registry.snapshot()->backends.size(), 1u);
    EXPECT_TRUE(w.registry.heartbeat(url(1).url, t0 + 2s));
    EXPECT_FALSE(w.registry.heartbeat(url(2).url, t0 + 2s));
    EXPECT_EQ(w.registry.remove(url(1).url), Registry::RemoveOutcome::kRemoved);
    EXPECT_EQ(w.registry.remove(url(1).url), Registry::RemoveOutcome::kUnknown);
    EXPECT_TRUE(w.registry.snapshot()->backends.empty());
  });
}

// Registering again with another name or weight updates them (the counters carry over);
// without them, or for a static backend, it is only a heartbeat.
TEST_P(RegistryTest, RegisterAgainWithNewNameOrWeightUpdates) {
  run([] {
    World w({});
    auto t0 = Clock::now();
    EXPECT_EQ(w.registry.add(url(1), "a", std::nullopt, false, t0), RegisterOutcome::kAdded);
    w.registry.snapshot()->backends[0]->requests.store(7);
    EXPECT_EQ(w.registry.add(url(1), "", std::nullopt, false, t0), RegisterOutcome::kRefreshed);
    EXPECT_EQ(w.registry.add(url(1), "a", 1, false, t0), RegisterOutcome::kRefreshed);
    EXPECT_EQ(w.registry.add(url(1), "", 3, false, t0), RegisterOutcome::kUpdated);
    auto b = w.registry.snapshot()->backends[0];
    EXPECT_EQ(b->name, "a");
    EXPECT_EQ(b->weight, 3);
    EXPECT_EQ(b->requests.load(), 7u);
    EXPECT_EQ(w.registry.add(url(1), "b", std::nullopt, false, t0), RegisterOutcome::kUpdated);
    EXPECT_EQ(w.registry.snapshot()->backends[0]->name, "b");
    EXPECT_EQ(w.registry.snapshot()->backends[0]->weight, 3);
    EXPECT_EQ(w.registry.size(), 1u);
    EXPECT_EQ(w.registry.add(url(2), "s", 1, true, t0), RegisterOutcome::kAdded);
    EXPECT_EQ(w.registry.add(url(2), "x", 5, false, t0), RegisterOutcome::kRefreshed);
  });
}

// The counters on /metrics: registrations and deregistrations (not of static backends),
// heartbeats of known backends, a missed heartbeat once per silence, expirations.
TEST_P(RegistryTest, StatsCountRegistrationsHeartbeatsAndSilence) {
  run([] {
    RegistryOptions o;
    o.heartbeat_timeout = 3s;  // grace 750 ms
    World w(o);
    auto t0 = Clock::now();
    w.registry.add(url(1), "", 1, false, t0);
    w.registry.add(url(2), "", 1, false, t0);
    w.registry.add(url(9), "", 1, true, t0);
    w.registry.add(url(1), "", 1, false, t0);  // a known URL: a heartbeat
    EXPECT_TRUE(w.registry.heartbeat(url(2).url, t0 + 1s));
    EXPECT_FALSE(w.registry.heartbeat(url(3).url, t0 + 1s));
    EXPECT_EQ(w.registry.remove(url(2).url), Registry::RemoveOutcome::kRemoved);
    EXPECT_EQ(w.registry.remove(url(9).url), Registry::RemoveOutcome::kStatic);
    RegistryStats s = w.registry.stats();
    EXPECT_EQ(s.registrations, 2u);
    EXPECT_EQ(s.heartbeats, 2u);
    EXPECT_EQ(s.deregistrations, 1u);
    EXPECT_EQ(s.heartbeats_missed, 0u);
    // Backend 1, silent since t0: past the timeout, within the grace. Missed once, however
    // many sweeps see it.
    EXPECT_EQ(w.registry.sweep(t0 + 3100ms).expired, 0u);
    EXPECT_EQ(w.registry.sweep(t0 + 3200ms).expired, 0u);
    EXPECT_EQ(w.registry.stats().heartbeats_missed, 1u);
    EXPECT_TRUE(w.registry.heartbeat(url(1).url, t0 + 3300ms));
    // Silent again: a second miss, then past the grace it expires.
    EXPECT_EQ(w.registry.sweep(t0 + 6400ms).expired, 0u);
    EXPECT_EQ(w.registry.sweep(t0 + 7100ms).expired, 1u);
    s = w.registry.stats();
    EXPECT_EQ(s.heartbeats, 3u);
    EXPECT_EQ(s.heartbeats_missed, 2u);
    EXPECT_EQ(s.expirations, 1u);
    EXPECT_EQ(s.registrations, 2u);
  });
}

TEST_P(RegistryTest, MaxBackends) {
  run([] {
    RegistryOptions o;
    o.max_backends = 2;
    World w(o);
    auto t = Clock::now();
    EXPECT_EQ(w.registry.add(url(1), "", 1, false, t), RegisterOutcome::kAdded);
    EXPECT_EQ(w.registry.add(url(2), "", 1, false, t), RegisterOutcome::kAdded);
    EXPECT_EQ(w.registry.add(url(3), "", 1, false, t), RegisterOutcome::kFull);
    EXPECT_EQ(w.registry.add(url(1), "", 1, false, t), RegisterOutcome::kRefreshed);
  });
}

TEST_P(RegistryTest, ExpiresSilentBackendsButNotStaticOnes) {
  run([] {
    RegistryOptions o;
    o.heartbeat_timeout = 3s;
    World w(o);
    auto t0 = Clock::now();
    for (int i = 1; i <= 4; ++i) w.registry.add(url(i), "", 1, false, t0);
    w.registry.add(url(9), "", 1, true, t0);
    answered_all(w.registry);
    for (int i = 1; i <= 3; ++i) w.registry.heartbeat(url(i).url, t0 + 2s);
    // Decided once silent for the timeout and its grace (3 s + 750 ms).
    EXPECT_EQ(w.registry.sweep(t0 + 3700ms).expired, 0u);
    SweepResult r = w.registry.sweep(t0 + 3800ms);
    EXPECT_EQ(r.expired, 1u);  // backend 4: silent since t0
    EXPECT_EQ(w.registry.size(), 4u);
    // The other three fall silent together (3 of 3): kept by the panic threshold.
    SweepResult all = w.registry.sweep(t0 + 5800ms);
    EXPECT_EQ(all.expired, 0u);
    EXPECT_EQ(all.kept, 3u);
    EXPECT_EQ(w.registry.size(), 4u);
  });
}

TEST_P(RegistryTest, PanicThresholdKeepsBackendsThatFallSilentTogether) {
  run([] {
    RegistryOptions o;
    o.heartbeat_timeout = 3s;
    World w(o);
    auto t0 = Clock::now();
    for (int i = 1; i <= 4; ++i) w.registry.add(url(i), "", 1, false, t0);
    answered_all(w.registry);
    w.registry.heartbeat(url(1).url, t0 + 2s);
    // 3 of 4 silent at once: more than half, so all are kept and routed to.
    SweepResult r = w.registry.sweep(t0 + 3800ms);
    EXPECT_EQ(r.expired, 0u);
    EXPECT_EQ(r.kept, 3u);
    EXPECT_TRUE(w.registry.in_panic());
    EXPECT_EQ(w.registry.snapshot()->backends.size(), 4u);
    EXPECT_EQ(w.registry.panic_sweeps(), 1u);
    // Heartbeats resume: panic ends.
    for (int i = 1; i <= 4; ++i) w.registry.heartbeat(url(i).url, t0 + 4s);
    EXPECT_EQ(w.registry.sweep(t0 + 4500ms).kept, 0u);
    EXPECT_FALSE(w.registry.in_panic());
  });
}

// Mass registrations of URLs that never answered a request, then silence: they do not count
// toward "most went silent" and expire, however many they are; the static backends route.
TEST_P(RegistryTest, EntriesThatNeverAnsweredExpireWhateverTheirNumber) {
  run([] {
    RegistryOptions o;
    o.heartbeat_timeout = 1s;
    World w(o);
    auto t0 = Clock::now();
    for (int i = 1; i <= 3; ++i) w.registry.add(url(i), "", 1, true, t0);
    answered_all(w.registry);
    for (int i = 10; i < 40; ++i) w.registry.add(url(i), "", 1, false, t0);
    SweepResult r = w.registry.sweep(t0 + 2s);
    EXPECT_EQ(r.expired, 30u);
    EXPECT_EQ(r.kept, 0u);
    EXPECT_FALSE(w.registry.in_panic());
    EXPECT_EQ(w.registry.snapshot()->backends.size(), 3u);
  });
}

// Self-preservation keeps silent backends that still answer, never those failing passive
// health checks: an ejected one, or one whose latest request failed.
TEST_P(RegistryTest, PanicDoesNotKeepBackendsThatFailRequests) {
  run([] {
    RegistryOptions o;
    o.heartbeat_timeout = 1s;
    o.max_ejected_share = 1.0;
    World w(o);
    auto t0 = Clock::now();
    for (int i = 1; i <= 6; ++i) w.registry.add(url(i), "", 1, false, t0);
    answered_all(w.registry);
    w.registry.record_failure(*find(w.registry, url(5)), t0);
    for (int k = 0; k < 5; ++k) w.registry.record_failure(*find(w.registry, url(6)), t0);
    ASSERT_TRUE(find(w.registry, url(1)) != nullptr);
    w.registry.heartbeat(url(1).url, t0 + 1500ms);
    // 2, 3 and 4 (of the four that answer) are silent: kept. 5 and 6 fail: expired.
    SweepResult r = w.registry.sweep(t0 + 1500ms);
    EXPECT_EQ(r.kept, 3u);
    EXPECT_EQ(r.expired, 2u);
    EXPECT_TRUE(w.registry.in_panic());
    EXPECT_EQ(w.registry.size(), 4u);
  });
}

// Backends that stop together have last heartbeats up to one interval apart (their phases)
// plus jitter: one outage, not a first expiry alone and then a panic for the rest.
TEST_P(RegistryTest, HeartbeatPhasesAndJitterDoNotSplitOneOutage) {
  run([] {
    RegistryOptions o;
    o.heartbeat_timeout = 1s;  // interval 333 ms, grace 333 ms
    World w(o);
    auto t0 = Clock::now();
    for (int i = 1; i <= 4; ++i) w.registry.add(url(i), "", 1, false, t0);
    answered_all(w.registry);
    // Last heartbeats: 1 at t0, 2 at t0 + 300 ms, 3 at t0 + 600 ms (a phase of 333 ms and
    // 267 ms of jitter); 4 goes on heartbeating every 333 ms. A sweep every 250 ms.
    w.registry.heartbeat(url(2).url, t0 + 300ms);
    w.registry.heartbeat(url(3).url, t0 + 600ms);
    auto next_beat = t0;
    for (auto t = t0; t < t0 + 4s; t += 250ms) {
      while (next_beat <= t) {
        w.registry.heartbeat(url(4).url, next_beat);
        next_beat += 333ms;
      }
      SweepResult r = w.registry.sweep(t);
      EXPECT_EQ(r.expired, 0u) << "at t0 + " << (t - t0) / 1ms << " ms";
    }
    EXPECT_TRUE(w.registry.in_panic());
    EXPECT_EQ(w.registry.size(), 4u);
  });
}

// One backend stopping alone is still expired within timeout + 1 s (with a 250 ms sweep).
TEST_P(RegistryTest, ALoneSilentBackendExpiresWithinTimeoutPlusOneSecond) {
  run([] {
    for (auto timeout : {200ms, 1000ms, 3000ms, 10000ms}) {
      RegistryOptions o;
      o.heartbeat_timeout = timeout;
      World w(o);
      auto t0 = Clock::now();
      for (int i = 1; i <= 4; ++i) w.registry.add(url(i), "", 1, false, t0);
      answered_all(w.registry);
      auto t = t0;
      while (w.registry.size() == 4 && t < t0 + timeout + 2s) {
        t += 250ms;
        for (int i = 2; i <= 4; ++i) w.registry.heartbeat(url(i).url, t);
        w.registry.sweep(t);
      }
      EXPECT_EQ(w.registry.size(), 3u);
      EXPECT_LE(t - t0, timeout + 1s) << timeout / 1ms;
    }
  });
}

TEST_P(RegistryTest, ConsecutiveFailuresEjectWithGrowingBackoffAndACap) {
  run([] {
    RegistryOptions o;
    o.eject_after = 5;
    o.eject_base = 1s;
    o.max_ejected_share = 0.5;
    World w(o);
    auto t0 = Clock::now();
    for (int i = 1; i <= 4; ++i) w.registry.add(url(i), "", 1, true, t0);
    auto snap = w.registry.snapshot();
    Backend& b1 = *snap->backends[0];
    Backend& b2 = *snap->backends[1];
    Backend& b3 = *snap->backends[2];
    for (int i = 0; i < 4; ++i) w.registry.record_failure(b1, t0);
    EXPECT_FALSE(b1.ejected());
    Registry::record_success(b1, 1000);  // a success resets the run
    for (int i = 0; i < 4; ++i) w.registry.record_failure(b1, t0);
    EXPECT_FALSE(b1.ejected());
    w.registry.record_failure(b1, t0);
    EXPECT_TRUE(b1.ejected());
    EXPECT_EQ(w.registry.snapshot()->backends.size(), 3u);
    for (int i = 0; i < 5; ++i) w.registry.record_failure(b2, t0);
    EXPECT_TRUE(b2.ejected());
    // Two of four ejected: the 50% cap stops a third.
    for (int i = 0; i < 5; ++i) w.registry.record_failure(b3, t0);
    EXPECT_FALSE(b3.ejected());
    EXPECT_EQ(w.registry.snapshot()->backends.size(), 2u);
    // Readmitted after the back-off (1 s for a first ejection).
    EXPECT_EQ(w.registry.sweep(t0 + 900ms).readmitted, 0u);
    EXPECT_EQ(w.registry.sweep(t0 + 1100ms).readmitted, 2u);
    EXPECT_EQ(w.registry.snapshot()->backends.size(), 4u);
    // A second ejection lasts twice as long.
    for (int i = 0; i < 5; ++i) w.registry.record_failure(b1, t0 + 2s);
    EXPECT_TRUE(b1.ejected());
    EXPECT_EQ(w.registry.sweep(t0 + 3500ms).readmitted, 0u);
    EXPECT_EQ(w.registry.sweep(t0 + 4100ms).readmitted, 1u);
  });
}

// A sweeper like the Balancer's, on a manual clock: every 50 ms backends 2 and 3 heartbeat
// and a sweep runs; backend 1 fell silent at the start. It goes after the timeout and its
// grace, at the first sweep past them, and never before.
TEST_P(RegistryTest, SweeperExpiresASilentBackendAfterTimeoutAndGrace) {
  run([] {
    RegistryOptions o;
    o.heartbeat_timeout = 200ms;
    World w(o);
    base::ManualClock clock;
    const auto start = clock.now();
    for (int i = 1; i <= 3; ++i) w.registry.add(url(i), "", 1, false, clock.now());
    while (w.registry.size() == 3 && clock.now() - start < 5s) {
      clock.advance(50ms);
      w.registry.heartbeat(url(2).url, clock.now());
      w.registry.heartbeat(url(3).url, clock.now());
      w.registry.sweep(clock.now());
    }
    EXPECT_EQ(w.registry.size(), 2u);
    const auto due = o.heartbeat_timeout + expiry_grace(o.heartbeat_timeout);
    EXPECT_GE(clock.now() - start, due);
    EXPECT_LT(clock.now() - start, due + 50ms);
    EXPECT_FALSE(w.registry.heartbeat(url(1).url, clock.now()));  // gone: it must register
  });
}

SPINDLE_INSTANTIATE_PROCS(RegistryTest);

}  // namespace
}  // namespace spindle::lb
