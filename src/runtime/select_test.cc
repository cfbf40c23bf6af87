#include "runtime/select.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

class SelectTest : public testing::RuntimeTest {};
class SelectDeathTest : public testing::RuntimeTest {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_P(SelectTest, PollWithNothingReadyReturnsMinusOne) {
  run([] {
    Chan<int> a = make_chan<int>();
    Chan<int> b = make_chan<int>(1);
    b.send(0);  // full: a send case on b would block
    Select s;
    std::optional<int> got;
    s.recv(a, &got);
    s.send(b, 1);
    EXPECT_EQ(s.poll(), -1);
    EXPECT_FALSE(got.has_value());
    EXPECT_EQ(b.len(), 1u);
  });
}

TEST_P(SelectTest, EmptyAndNilSelectsPoll) {
  run([] {
    Select empty;
    EXPECT_EQ(empty.poll(), -1);
    Select nils;
    Chan<int> nil;
    std::optional<int> got;
    nils.recv(nil, &got);
    nils.send(nil, 1);
    EXPECT_EQ(nils.poll(), -1);
  });
}

TEST_P(SelectTest, ReadyReceiveIsChosen) {
  run([] {
    Chan<int> a = make_chan<int>(1);
    Chan<std::string> b = make_chan<std::string>(1);
    b.send("hello");
    Select s;
    std::optional<int> from_a;
    std::optional<std::string> from_b;
    s.recv(a, &from_a);
    int bi = s.recv(b, &from_b);
    EXPECT_EQ(s.wait(), bi);
    EXPECT_EQ(from_b, "hello");
    EXPECT_FALSE(from_a.has_value());
  });
}

TEST_P(SelectTest, ReadySendIsChosen) {
  run([] {
    Chan<int> a = make_chan<int>();
    Chan<int> b = make_chan<int>(1);
    Select s;
    std::optional<int> from_a;
    s.recv(a, &from_a);
    int bi = s.send(b, 5);
    EXPECT_EQ(s.poll(), bi);
    EXPECT_EQ(b.recv(), 5);
  });
}

TEST_P(SelectTest, ClosedReceiveCaseYieldsNullopt) {
  run([] {
    Chan<int> a = make_chan<int>();
    Chan<int> closed = make_chan<int>();
    closed.close();
    Select s;
    std::optional<int> from_a;
    std::optional<int> from_closed = 17;
    s.recv(a, &from_a);
    int ci = s.recv(closed, &from_closed);
    EXPECT_EQ(s.wait(), ci);
    EXPECT_FALSE(from_closed.has_value());
  });
}

TEST_P(SelectTest, ParkedSelectIsWokenByReceiveAndCleansUp) {
  run([] {
    constexpr int kCases = 64;
    std::vector<Chan<int>> chans;
    for (int i = 0; i < kCases; ++i) chans.push_back(make_chan<int>());
    for (int target : {0, 37, 63}) {
      Chan<int> result = make_chan<int>(1);
      go([chans, result]() mutable {
        Select s;
        std::array<std::optional<int>, kCases> got;
        for (int i = 0; i < kCases; ++i) s.recv(chans[i], &got[i]);
        int i = s.wait();
        result.send(got[i].has_value() && *got[i] == i * 10 ? i : -1);
      });
      while (chans[target].recv_waiters_for_test() == 0) yield();
      chans[target].send(target * 10);
      EXPECT_EQ(result.recv(), target);
      // The losing cases' waiters are gone: nobody receives on the other channels.
      for (int i = 0; i < kCases; ++i) {
        EXPECT_EQ(chans[i].recv_waiters_for_test(), 0u) << i;
        EXPECT_FALSE(chans[i].try_send(1)) << i;
      }
    }
  });
}

TEST_P(SelectTest, ParkedSelectIsWokenBySendCase) {
  run([] {
    constexpr int kCases = 64;
    std::vector<Chan<int>> chans;
    for (int i = 0; i < kCases; ++i) chans.push_back(make_chan<int>());
    Chan<int> result = make_chan<int>(1);
    go([chans, result]() mutable {
      Select s;
      for (int i = 0; i < kCases; ++i) s.send(chans[i], i);
      result.send(s.wait());
    });
    while (chans[21].send_waiters_for_test() == 0) yield();
    EXPECT_EQ(chans[21].recv(), 21);
    EXPECT_EQ(result.recv(), 21);
    for (Chan<int>& ch : chans) EXPECT_TRUE(ch.try_recv().would_block());
  });
}

TEST_P(SelectTest, ManyCasesWithDefault) {
  run([] {
    constexpr int kCases = 64;
    std::vector<Chan<int>> chans;
    for (int i = 0; i < kCases; ++i) chans.push_back(make_chan<int>(1));
    {
      Select s;
      std::array<std::optional<int>, kCases> got;
      for (int i = 0; i < kCases; ++i) s.recv(chans[i], &got[i]);
      EXPECT_EQ(s.poll(), -1);
    }
    chans[42].send(420);
    Select s;
    std::array<std::optional<int>, kCases> got;
    for (int i = 0; i < kCases; ++i) s.recv(chans[i], &got[i]);
    EXPECT_EQ(s.poll(), 42);
    EXPECT_EQ(got[42], 420);
  });
}

TEST_P(SelectTest, MixedManyCasesAllChosenEventually) {
  run([] {
    // 32 buffered channels all ready to receive, 32 with room to send: every case must win
    // at some point (the random poll order reaches them all).
    constexpr int kHalf = 32;
    std::vector<Chan<int>> full;
    std::vector<Chan<int>> empty;
    for (int i = 0; i < kHalf; ++i) {
      full.push_back(make_chan<int>(1));
      full.back().send(i);
      empty.push_back(make_chan<int>(1));
    }
    std::vector<int> wins(2 * kHalf, 0);
    for (int trial = 0; trial < 4000; ++trial) {
      Select s;
      std::array<std::optional<int>, kHalf> got;
      for (int i = 0; i < kHalf; ++i) s.recv(full[i], &got[i]);
      for (int i = 0; i < kHalf; ++i) s.send(empty[i], i);
      int i = s.wait();
      ASSERT_GE(i, 0);
      ++wins[i];
      if (i < kHalf) {
        ASSERT_EQ(got[i], i);
        full[i].send(i);  // refill
      } else {
        ASSERT_EQ(empty[i - kHalf].recv(), i - kHalf);  // drain
      }
    }
    for (int i = 0; i < 2 * kHalf; ++i) EXPECT_GT(wins[i], 0) << i;
  });
}

TEST_P(SelectTest, RandomChoiceIsFair) {
  run([] {
    constexpr int kTrials = 10000;
    Chan<int> a = make_chan<int>(1);
    Chan<int> b = make_chan<int>(1);
    int a_wins = 0;
    for (int t = 0; t < kTrials; ++t) {
      a.try_send(1);
      b.try_send(2);
      Select s;
      std::optional<int> got;
      int ai = s.recv(a, &got);
      s.recv(b, &got);
      if (s.wait() == ai) ++a_wins;
    }
    EXPECT_GT(a_wins, kTrials * 3 / 10);
    EXPECT_GT(kTrials - a_wins, kTrials * 3 / 10);
  });
}

TEST_P(SelectTest, SendAndReceiveOnSameChannel) {
  run([] {
    // Two goroutines each select {send on ch, receive from ch}: they must pair up, one
    // sending and one receiving, never matching themselves.
    for (int round = 0; round < 200; ++round) {
      Chan<int> ch = make_chan<int>();
      Chan<int> results = make_chan<int>(2);
      for (int id = 1; id <= 2; ++id) {
        go([ch, results, id]() mutable {
          Select s;
          std::optional<int> got;
          int sent = s.send(ch, id);
          s.recv(ch, &got);
          int i = s.wait();
          results.send(i == sent ? 0 : *got);
        });
      }
      int r1 = *results.recv();
      int r2 = *results.recv();
      EXPECT_TRUE((r1 == 0) != (r2 == 0)) << r1 << " " << r2;
      EXPECT_TRUE(r1 + r2 == 1 || r1 + r2 == 2);
    }
  });
}

TEST_P(SelectTest, SelectPingPong) {
  run([] {
    Chan<int> ping = make_chan<int>();
    Chan<int> pong = make_chan<int>();
    Chan<int> quit = make_chan<int>();
    go([ping, pong, quit]() mutable {
      for (bool done = false; !done;) {
        select(on_recv(ping, [&](std::optional<int> v) { pong.send(*v + 1); }),
               on_recv(quit, [&](std::optional<int>) { done = true; }));
      }
    });
    for (int i = 0; i < 5000; ++i) {
      Select s;
      s.send(ping, i);
      EXPECT_EQ(s.wait(), 0);
      ASSERT_EQ(pong.recv(), i + 1);
    }
    quit.close();
  });
}

TEST_P(SelectTest, CloseWakesParkedSelect) {
  run([] {
    Chan<int> a = make_chan<int>();
    Chan<int> b = make_chan<int>();
    Chan<int> result = make_chan<int>(1);
    go([a, b, result]() mutable {
      Select s;
      std::optional<int> from_a;
      std::optional<int> from_b = 99;
      s.recv(a, &from_a);
      int bi = s.recv(b, &from_b);
      result.send(s.wait() == bi && !from_b.has_value() ? 1 : 0);
    });
    while (b.recv_waiters_for_test() == 0) yield();
    b.close();
    EXPECT_EQ(result.recv(), 1);
    EXPECT_EQ(a.recv_waiters_for_test(), 0u);
  });
}

TEST_P(SelectTest, SendValuesAreMovedOnlyWhenChosen) {
  run([] {
    auto owned = std::make_shared<int>(1);
    Chan<std::shared_ptr<int>> full = make_chan<std::shared_ptr<int>>();
    Chan<std::unique_ptr<int>> room = make_chan<std::unique_ptr<int>>(1);
    {
      Select s;
      s.send(full, owned);
      EXPECT_EQ(s.poll(), -1);
      EXPECT_EQ(owned.use_count(), 2);  // held by the Select until it is destroyed
    }
    EXPECT_EQ(owned.use_count(), 1);
    Select s;
    s.send(full, owned);
    int ri = s.send(room, std::make_unique<int>(7));
    EXPECT_EQ(s.wait(), ri);
    EXPECT_EQ(**room.recv(), 7);
  });
}

TEST_P(SelectTest, LargeValuesSpillToHeap) {
  run([] {
    struct Big {
      char bytes[300];
      std::string tag;
    };
    Chan<Big> ch = make_chan<Big>(3);
    Select s;
    for (int i = 0; i < 3; ++i) s.send(ch, Big{{}, "v" + std::to_string(i)});
    int i = s.wait();
    EXPECT_EQ(ch.recv()->tag, "v" + std::to_string(i));
  });
}

TEST_P(SelectTest, ClosureStyle) {
  run([] {
    Chan<int> numbers = make_chan<int>(1);
    Chan<std::unique_ptr<std::string>> names = make_chan<std::unique_ptr<std::string>>(1);
    Chan<int> results = make_chan<int>(1);
    int defaults = 0;
    auto poll_once = [&] {
      return select(on_recv(numbers, [&](std::optional<int> v) { results.send(*v * 2); }),
                    on_send(names, std::make_unique<std::string>("n"), [] {}),
                    on_default([&] { ++defaults; }));
    };
    EXPECT_EQ(poll_once(), 1);  // room in names
    EXPECT_EQ(poll_once(), 2);  // names full, numbers empty: default
    EXPECT_EQ(defaults, 1);
    numbers.send(21);
    EXPECT_EQ(poll_once(), 0);
    EXPECT_EQ(results.recv(), 42);
    EXPECT_EQ(**names.recv(), "n");

    // Without a default it parks until a case proceeds; closed receives get nullopt.
    Chan<int> later = make_chan<int>();
    go([later]() mutable { later.send(5); });
    Chan<int> nil;
    int got = 0;
    EXPECT_EQ(select(on_recv(nil, [](std::optional<int>) {}),
                     on_recv(later, [&](std::optional<int> v) { got = *v; })),
              1);
    EXPECT_EQ(got, 5);
    numbers.close();
    bool closed = false;
    EXPECT_EQ(select(on_recv(numbers, [&](std::optional<int> v) { closed = !v.has_value(); })), 0);
    EXPECT_TRUE(closed);
    EXPECT_EQ(select(on_default([] {})), 0);
  });
}

TEST_P(SelectDeathTest, ChosenSendOnClosedChannel) {
  EXPECT_DEATH(run([] {
                 Chan<int> ch = make_chan<int>(1);
                 ch.close();
                 Select s;
                 s.send(ch, 1);
                 s.wait();
               }),
               "fatal error: send on closed channel");
}

TEST_P(SelectDeathTest, ParkedSendCaseDiesOnClose) {
  EXPECT_DEATH(run([] {
                 Chan<int> ch = make_chan<int>();
                 Chan<int> other = make_chan<int>();
                 go([ch, other]() mutable {
                   Select s;
                   std::optional<int> got;
                   s.send(ch, 1);
                   s.recv(other, &got);
                   s.wait();
                 });
                 while (ch.send_waiters_for_test() == 0) yield();
                 ch.close();
               }),
               "fatal error: send on closed channel");
}

TEST_P(SelectDeathTest, EmptySelectBlocksForever) {
  EXPECT_DEATH(run([] { Select().wait(); }), "all goroutines are asleep - deadlock!");
}

TEST_P(SelectDeathTest, RunsOnlyOnce) {
  EXPECT_DEATH(run([] {
                 Select s;
                 s.poll();
                 s.poll();
               }),
               "a Select runs once");
}

SPINDLE_INSTANTIATE_PROCS(SelectTest);
SPINDLE_INSTANTIATE_PROCS(SelectDeathTest);

}  // namespace
}  // namespace spindle::runtime
