// Heavy channel and select tests (ctest label "stress"): Go's concurrent prime sieve, and a
// lost-wake-up hunt mixing send and receive cases in one select over small buffers.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "runtime/scheduler.h"
#include "runtime/select.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

class ChanStressTest : public testing::RuntimeTest {};

// Sends `v` unless `done` is closed first.
bool send_or_done(Chan<int>& out, int v, const Chan<int>& done) {
  Select s;
  std::optional<int> ignored;
  int sent = s.send(out, v);
  s.recv(done, &ignored);
  return s.wait() == sent;
}

// Go's concurrent prime sieve: a generator and one filter goroutine per prime found. Its cost
// grows with the square of the primes found: under TSan (10x slower per channel operation)
// half as many keep the run to seconds.
#ifdef __has_feature
#define SPINDLE_HAS_FEATURE(x) __has_feature(x)
#else
#define SPINDLE_HAS_FEATURE(x) 0
#endif
constexpr int kSievePrimes = SPINDLE_HAS_FEATURE(thread_sanitizer) ? 500 : 1000;

TEST_P(ChanStressTest, ConcurrentPrimeSieve) {
  run([] {
    constexpr int kPrimes = kSievePrimes;
    Chan<int> done = make_chan<int>();
    Chan<int> ch = make_chan<int>();
    go([ch, done]() mutable {
      for (int i = 2; send_or_done(ch, i, done); ++i) {
      }
      ch.close();
    });
    std::vector<int> primes;
    for (int k = 0; k < kPrimes; ++k) {
      int prime = *ch.recv();
      primes.push_back(prime);
      Chan<int> next = make_chan<int>();
      go([in = ch, out = next, done, prime]() mutable {
        while (std::optional<int> v = in.recv()) {
          if (*v % prime != 0 && !send_or_done(out, *v, done)) break;
        }
        out.close();
      });
      ch = next;
    }
    done.close();
    while (ch.recv()) {
    }

    std::vector<int> expected;
    for (int n = 2; static_cast<int>(expected.size()) < kPrimes; ++n) {
      bool prime = true;
      for (int d = 2; d * d <= n && prime; ++d) prime = n % d != 0;
      if (prime) expected.push_back(n);
    }
    EXPECT_EQ(primes, expected);
    EXPECT_EQ(primes.back(), kPrimes == 1000 ? 7919 : 3571);  // the 1000th or the 500th prime
  });
}

// Producers -> A channels (buffer 1) -> relays -> B channels (unbuffered) -> consumers. Relays
// hold up to two values and select over receives from every open A channel mixed with sends of
// their oldest value to every B channel, sometimes with a default case. A lost wake-up hangs
// the test; a duplicated or dropped value breaks the exact count and sum.
TEST_P(ChanStressTest, NoLostWakeupsInMixedSelects) {
  run([] {
    constexpr int kChans = 4;
    constexpr int kProducers = 4;
    constexpr int kRelays = 4;
    constexpr int kConsumers = 4;
    constexpr int64_t kItems = 10000;  // per producer
    std::vector<Chan<int64_t>> a;
    std::vector<Chan<int64_t>> b;
    for (int j = 0; j < kChans; ++j) {
      a.push_back(make_chan<int64_t>(1));
      b.push_back(make_chan<int64_t>());
    }
    Chan<int> producers_done = make_chan<int>(kProducers);
    Chan<int64_t> relayed = make_chan<int64_t>(kRelays);
    Chan<std::pair<int64_t, int64_t>> consumed = make_chan<std::pair<int64_t, int64_t>>();

    for (int p = 0; p < kProducers; ++p) {
      go([a, producers_done, p]() mutable {
        for (int64_t i = 1; i <= kItems; ++i) {
          Select s;
          for (Chan<int64_t>& ch : a) s.send(ch, p * kItems + i);
          s.wait();
        }
        producers_done.send(p);
      });
    }
    for (int r = 0; r < kRelays; ++r) {
      go([in = a, b, relayed]() mutable {
        std::vector<int64_t> held;  // at most two, oldest first
        int open = kChans;
        int64_t forwarded = 0;
        while (open > 0 || !held.empty()) {
          Select s;
          std::optional<int64_t> got[kChans];
          int recv_case[kChans] = {-1, -1, -1, -1};
          if (held.size() < 2) {
            for (int j = 0; j < kChans; ++j) {
              if (!in[j].is_nil()) recv_case[j] = s.recv(in[j], &got[j]);
            }
          }
          if (!held.empty()) {
            for (Chan<int64_t>& ch : b) s.send(ch, held.front());
          }
          int i = fastrandn(4) == 0 ? s.poll() : s.wait();
          if (i < 0) {
            yield();
            continue;
          }
          int j = 0;
          while (j < kChans && recv_case[j] != i) ++j;
          if (j == kChans) {
            held.erase(held.begin());
            ++forwarded;
          } else if (got[j].has_value()) {
            held.push_back(*got[j]);
          } else {
            in[j] = Chan<int64_t>();  // closed: a nil channel is never ready again
            --open;
          }
        }
        relayed.send(forwarded);
      });
    }
    for (int c = 0; c < kConsumers; ++c) {
      go([in = b, consumed]() mutable {
        int64_t count = 0;
        int64_t sum = 0;
        for (int open = kChans; open > 0;) {
          Select s;
          std::optional<int64_t> got[kChans];
          for (int j = 0; j < kChans; ++j) s.recv(in[j], &got[j]);
          int j = s.wait();
          if (got[j].has_value()) {
            ++count;
            sum += *got[j];
          } else {
            in[j] = Chan<int64_t>();
            --open;
          }
        }
        consumed.send({count, sum});
      });
    }

    for (int p = 0; p < kProducers; ++p) producers_done.recv();
    for (Chan<int64_t>& ch : a) ch.close();
    int64_t forwarded = 0;
    for (int r = 0; r < kRelays; ++r) forwarded += *relayed.recv();
    for (Chan<int64_t>& ch : b) ch.close();
    int64_t count = 0;
    int64_t sum = 0;
    for (int c = 0; c < kConsumers; ++c) {
      auto [n, s] = *consumed.recv();
      count += n;
      sum += s;
    }
    constexpr int64_t kN = kProducers * kItems;
    EXPECT_EQ(forwarded, kN);
    EXPECT_EQ(count, kN);
    EXPECT_EQ(sum, kN * (kN + 1) / 2);
  });
}

// Receivers parked in selects over a shared channel and a private one; closing the shared
// channel must wake every one of them exactly once, with "closed".
TEST_P(ChanStressTest, CloseWakesEverySelect) {
  run([] {
    constexpr int kRounds = 50;
    constexpr int kWaiters = 32;
    for (int round = 0; round < kRounds; ++round) {
      Chan<int> shared = make_chan<int>();
      Chan<int> results = make_chan<int>(kWaiters);
      std::vector<Chan<int>> own;
      for (int w = 0; w < kWaiters; ++w) {
        own.push_back(make_chan<int>());
        go([shared, mine = own.back(), results]() mutable {
          Select s;
          std::optional<int> from_shared;
          std::optional<int> from_mine;
          int shared_case = s.recv(shared, &from_shared);
          s.recv(mine, &from_mine);
          int i = s.wait();
          results.send(i == shared_case && !from_shared.has_value() ? 1 : 0);
        });
      }
      if (round % 2 == 0) {
        while (shared.recv_waiters_for_test() < kWaiters) yield();
      }
      shared.close();
      int closed_seen = 0;
      for (int w = 0; w < kWaiters; ++w) closed_seen += *results.recv();
      ASSERT_EQ(closed_seen, kWaiters);
      for (Chan<int>& ch : own) ASSERT_FALSE(ch.try_send(1)) << "stale select waiter";
    }
  });
}

SPINDLE_INSTANTIATE_PROCS(ChanStressTest);

}  // namespace
}  // namespace spindle::runtime
