#include "runtime/channel.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "runtime/runtime.h"
#include "runtime/testing.h"

namespace spindle::runtime {
namespace {

class ChanTest : public testing::RuntimeTest {};
class ChanDeathTest : public testing::RuntimeTest {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Yields until `ch` has `n` parked receivers (or senders): a test's way to know its partner
// is asleep before acting, without sleeping for correctness.
template <typename T>
void await_receivers(const Chan<T>& ch, size_t n) {
  while (ch.recv_waiters_for_test() < n) yield();
}
template <typename T>
void await_senders(const Chan<T>& ch, size_t n) {
  while (ch.send_waiters_for_test() < n) yield();
}

void expect_fifo(size_t capacity, int count) {
  Chan<int> ch = make_chan<int>(capacity);
  go([ch, count]() mutable {
    for (int i = 0; i < count; ++i) ch.send(i);
    ch.close();
  });
  for (int i = 0; i < count; ++i) {
    std::optional<int> v = ch.recv();
    ASSERT_TRUE(v.has_value());
    ASSERT_EQ(*v, i);
  }
  EXPECT_EQ(ch.recv(), std::nullopt);
}

TEST_P(ChanTest, UnbufferedIsFifo) {
  run([] { expect_fifo(0, 5000); });
}

TEST_P(ChanTest, BufferedIsFifo) {
  run([] {
    expect_fifo(1, 5000);
    expect_fifo(7, 5000);
    expect_fifo(1024, 5000);
  });
}

TEST_P(ChanTest, BufferedReceiverTakesFromFullBufferInOrder) {
  run([] {
    // The sender parks on a full buffer; each receive must return the oldest value and let
    // the parked sender's value into the freed slot (chan.go's recv on a full buffer).
    Chan<int> ch = make_chan<int>(2);
    ch.send(0);
    ch.send(1);
    go([ch]() mutable { ch.send(2); });
    await_senders(ch, 1);
    EXPECT_EQ(ch.len(), 2u);
    EXPECT_EQ(ch.recv(), 0);
    EXPECT_EQ(ch.recv(), 1);
    EXPECT_EQ(ch.recv(), 2);
    EXPECT_EQ(ch.len(), 0u);
  });
}

TEST_P(ChanTest, RecvOnClosedDrainedChannelReturnsAtOnce) {
  run([] {
    Chan<int> unbuffered = make_chan<int>();
    unbuffered.close();
    EXPECT_EQ(unbuffered.recv(), std::nullopt);
    EXPECT_EQ(unbuffered.recv(), std::nullopt);
    Chan<std::string> buffered = make_chan<std::string>(4);
    buffered.close();
    EXPECT_EQ(buffered.recv(), std::nullopt);
  });
}

TEST_P(ChanTest, BufferedValuesAreDeliveredAfterClose) {
  run([] {
    Chan<int> ch = make_chan<int>(3);
    ch.send(1);
    ch.send(2);
    ch.send(3);
    ch.close();
    EXPECT_EQ(ch.len(), 3u);
    EXPECT_EQ(ch.recv(), 1);
    EXPECT_EQ(ch.recv(), 2);
    EXPECT_EQ(ch.recv(), 3);
    EXPECT_EQ(ch.recv(), std::nullopt);
    EXPECT_TRUE(ch.try_recv().closed());
  });
}

TEST_P(ChanTest, CloseWakesAllParkedReceivers) {
  run([] {
    constexpr int kReceivers = 16;
    Chan<int> ch = make_chan<int>();
    Chan<bool> results = make_chan<bool>(kReceivers);
    for (int i = 0; i < kReceivers; ++i) {
      go([ch, results]() mutable { results.send(!ch.recv().has_value()); });
    }
    await_receivers(ch, kReceivers);
    ch.close();
    for (int i = 0; i < kReceivers; ++i) EXPECT_EQ(results.recv(), true);
  });
}

TEST_P(ChanTest, TrySendAndTryRecv) {
  run([] {
    Chan<int> unbuffered = make_chan<int>();
    EXPECT_FALSE(unbuffered.try_send(1));
    EXPECT_TRUE(unbuffered.try_recv().would_block());

    Chan<int> ch = make_chan<int>(1);
    EXPECT_TRUE(ch.try_send(1));
    EXPECT_FALSE(ch.try_send(2));
    EXPECT_EQ(ch.len(), 1u);
    EXPECT_EQ(ch.cap(), 1u);
    TryRecv<int> got = ch.try_recv();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, 1);
    EXPECT_TRUE(ch.try_recv().would_block());
    const int three = 3;
    EXPECT_TRUE(ch.try_send(three));
    ch.close();
    EXPECT_EQ(ch.try_recv().value(), 3);
    EXPECT_TRUE(ch.try_recv().closed());
  });
}

TEST_P(ChanTest, TrySendHandsToParkedReceiver) {
  run([] {
    Chan<int> ch = make_chan<int>();
    Chan<int> out = make_chan<int>(1);
    go([ch, out]() mutable { out.send(*ch.recv()); });
    await_receivers(ch, 1);
    EXPECT_TRUE(ch.try_send(42));
    EXPECT_EQ(out.recv(), 42);
  });
}

TEST_P(ChanTest, TryRecvTakesFromParkedSender) {
  run([] {
    Chan<int> ch = make_chan<int>();
    go([ch]() mutable { ch.send(7); });
    await_senders(ch, 1);
    TryRecv<int> got = ch.try_recv();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, 7);
  });
}

TEST_P(ChanTest, TrySendFromRuntimeThread) {
  run([] {
    Chan<int> ch = make_chan<int>();
    Chan<int> out = make_chan<int>(1);
    go([ch, out]() mutable { out.send(*ch.recv()); });
    await_receivers(ch, 1);
    bool sent = false;
    std::thread timer([&ch, &sent] { sent = ch.try_send_from_runtime(9); });
    timer.join();  // holds this M briefly; the thread never waits for a goroutine
    EXPECT_TRUE(sent);
    EXPECT_EQ(out.recv(), 9);
    EXPECT_FALSE(Chan<int>().try_send_from_runtime(1));
  });
}

TEST_P(ChanTest, NilChannelNeverReady) {
  run([] {
    Chan<int> nil;
    EXPECT_TRUE(nil.is_nil());
    EXPECT_FALSE(nil.try_send(1));
    EXPECT_TRUE(nil.try_recv().would_block());
    EXPECT_EQ(nil.len(), 0u);
    EXPECT_EQ(nil.cap(), 0u);
    EXPECT_TRUE(nil == Chan<int>());
    EXPECT_FALSE(nil == make_chan<int>());
  });
}

TEST_P(ChanTest, MoveOnlyElements) {
  run([] {
    for (size_t capacity : {0, 1, 4}) {
      Chan<std::unique_ptr<int>> ch = make_chan<std::unique_ptr<int>>(capacity);
      go([ch]() mutable {
        for (int i = 0; i < 100; ++i) ch.send(std::make_unique<int>(i));
        ch.close();
      });
      int expected = 0;
      while (std::optional<std::unique_ptr<int>> p = ch.recv()) EXPECT_EQ(**p, expected++);
      EXPECT_EQ(expected, 100);
    }
    // A failed try_send leaves the value with the caller.
    Chan<std::unique_ptr<int>> full = make_chan<std::unique_ptr<int>>();
    auto p = std::make_unique<int>(5);
    EXPECT_FALSE(full.try_send(std::move(p)));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 5);
  });
}

struct NoDefault {
  explicit NoDefault(int v) : value(v) {}
  int value;
};

TEST_P(ChanTest, NonDefaultConstructibleElements) {
  run([] {
    Chan<NoDefault> ch = make_chan<NoDefault>(2);
    ch.send(NoDefault(1));
    go([ch]() mutable { ch.send(NoDefault(2)); });
    EXPECT_EQ(ch.recv()->value, 1);
    EXPECT_EQ(ch.recv()->value, 2);
  });
}

TEST_P(ChanTest, BufferedValuesAreDestroyedWithTheChannel) {
  run([] {
    auto counted = std::make_shared<int>(0);
    {
      Chan<std::shared_ptr<int>> ch = make_chan<std::shared_ptr<int>>(8);
      for (int i = 0; i < 5; ++i) ch.send(counted);
      EXPECT_EQ(counted.use_count(), 6);
    }
    EXPECT_EQ(counted.use_count(), 1);
  });
}

TEST_P(ChanTest, FanIn) {
  run([] {
    constexpr int kProducers = 8;
    constexpr int kPerProducer = 2000;
    Chan<int> ch = make_chan<int>(4);
    Chan<int> done = make_chan<int>(kProducers);
    for (int p = 0; p < kProducers; ++p) {
      go([ch, done, p]() mutable {
        for (int i = 1; i <= kPerProducer; ++i) ch.send(p * kPerProducer + i);
        done.send(p);
      });
    }
    go([ch, done]() mutable {
      for (int p = 0; p < kProducers; ++p) done.recv();
      ch.close();
    });
    int64_t sum = 0;
    int count = 0;
    while (std::optional<int> v = ch.recv()) {
      sum += *v;
      ++count;
    }
    constexpr int64_t kN = int64_t{kProducers} * kPerProducer;
    EXPECT_EQ(count, kN);
    EXPECT_EQ(sum, kN * (kN + 1) / 2);
  });
}

TEST_P(ChanTest, FanOut) {
  run([] {
    constexpr int kWorkers = 8;
    constexpr int kJobs = 10000;
    Chan<int> jobs = make_chan<int>();
    Chan<int64_t> sums = make_chan<int64_t>();
    for (int w = 0; w < kWorkers; ++w) {
      go([jobs, sums]() mutable {
        int64_t sum = 0;
        while (std::optional<int> job = jobs.recv()) sum += int64_t{*job} * 2;
        sums.send(sum);
      });
    }
    for (int i = 1; i <= kJobs; ++i) jobs.send(i);
    jobs.close();
    int64_t total = 0;
    for (int w = 0; w < kWorkers; ++w) total += *sums.recv();
    EXPECT_EQ(total, int64_t{kJobs} * (kJobs + 1));
  });
}

TEST_P(ChanTest, ManyPingPongs) {
  run([] {
    Chan<int> ping = make_chan<int>();
    Chan<int> pong = make_chan<int>();
    go([ping, pong]() mutable {
      while (std::optional<int> v = ping.recv()) pong.send(*v + 1);
    });
    for (int i = 0; i < 10000; ++i) {
      ping.send(i);
      ASSERT_EQ(pong.recv(), i + 1);
    }
    ping.close();
  });
}

TEST_P(ChanDeathTest, SendOnClosedChannel) {
  EXPECT_DEATH(run([] {
                 Chan<int> ch = make_chan<int>(1);
                 ch.close();
                 ch.send(1);
               }),
               "fatal error: send on closed channel");
}

TEST_P(ChanDeathTest, TrySendOnClosedChannel) {
  EXPECT_DEATH(run([] {
                 Chan<int> ch = make_chan<int>();
                 ch.close();
                 ch.try_send(1);
               }),
               "fatal error: send on closed channel");
}

TEST_P(ChanDeathTest, CloseWakesParkedSenderWhichDies) {
  EXPECT_DEATH(run([] {
                 Chan<int> ch = make_chan<int>();
                 go([ch]() mutable { ch.send(1); });
                 await_senders(ch, 1);
                 ch.close();  // the sender dies while the fixture waits for it
               }),
               "fatal error: send on closed channel");
}

TEST_P(ChanDeathTest, CloseOfClosedChannel) {
  EXPECT_DEATH(run([] {
                 Chan<int> ch = make_chan<int>();
                 ch.close();
                 ch.close();
               }),
               "fatal error: close of closed channel");
}

TEST_P(ChanDeathTest, CloseOfNilChannel) {
  EXPECT_DEATH(run([] {
                 Chan<int> nil;
                 nil.close();
               }),
               "fatal error: close of nil channel");
}

TEST_P(ChanDeathTest, NilChannelOperationsBlockForever) {
  // Nothing else can run: the scheduler's deadlock report, not a hang.
  EXPECT_DEATH(run([] { Chan<int>().recv(); }), "all goroutines are asleep - deadlock!");
  EXPECT_DEATH(run([] { Chan<int>().send(1); }), "all goroutines are asleep - deadlock!");
}

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

TEST(ChanIdle, ParkedGoroutinesUseNoCpu) {
  constexpr int kParked = 1000;
  Runtime rt(Options{.procs = 4});
  Chan<int> never = make_chan<int>();
  Chan<int> done = make_chan<int>(kParked);
  rt.run([never, done] {
    for (int i = 0; i < kParked; ++i) {
      go([never, done]() mutable { done.send(never.recv().has_value() ? 1 : 0); });
    }
    await_receivers(never, kParked);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let spinning Ms give up
  double before = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  double used = process_cpu_seconds() - before;
  EXPECT_LT(used, 0.05) << kParked << " parked goroutines burned " << used << " s of CPU";
  rt.run([never, done]() mutable {
    never.close();
    for (int i = 0; i < kParked; ++i) EXPECT_EQ(done.recv(), 0);
  });
}

TEST(ChanOutsideGoroutineDeathTest, OperationsNeedAGoroutine) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Chan<int> ch = make_chan<int>(1);
  EXPECT_DEATH(ch.send(1), "outside a goroutine");
  EXPECT_DEATH(ch.try_recv(), "outside a goroutine");
  EXPECT_DEATH(ch.close(), "outside a goroutine");
  EXPECT_EQ(ch.len(), 0u);
}

SPINDLE_INSTANTIATE_PROCS(ChanTest);
SPINDLE_INSTANTIATE_PROCS(ChanDeathTest);

}  // namespace
}  // namespace spindle::runtime
