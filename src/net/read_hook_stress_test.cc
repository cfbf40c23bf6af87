// Close racing a disconnect watcher's watch and stop (Socket::arm_read_hook and
// disarm_read_hook against Socket::close from another goroutine, as the HTTP server's
// shutdown force-closes connections whose handlers are watching them). Arming and disarming
// must hold an operation reference: without one, the close can run to its end meanwhile and
// recycle the PollDesc, and the hook lands on (or is taken from) a descriptor that is free or
// already another socket's.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include "net/socket.h"
#include "runtime/netpoll_internal.h"
#include "runtime/race_hook.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"
#include "runtime/time.h"

namespace spindle::net {
namespace {

using namespace std::chrono_literals;
using base::Clock;
using runtime::testing::spin_ns;
using runtime::testing::thread_rand;

std::atomic<int> g_recycled_uses{0};

// Delays arming and disarming so a racing close can finish first, then checks that the
// PollDesc is still open (a recycled one is on the free list with fd -1).
void hook_race_hook(runtime::RacePoint point, const void* obj) {
  if (point != runtime::RacePoint::kReadHookArm && point != runtime::RacePoint::kReadHookDisarm) {
    return;
  }
  spin_ns(thread_rand() % 20'000);
  if (static_cast<const runtime::PollDesc*>(obj)->fd < 0) g_recycled_uses.fetch_add(1);
}

TEST(ReadHookStress, CloseRacingWatchAndStop) {
  runtime::set_race_hook_for_test(&hook_race_hook);
  std::atomic<uint64_t> rounds{0}, fired{0}, lost{0};
  runtime::Runtime rt(runtime::Options{.procs = 2});
  rt.run([&] {
    const auto end = Clock::now() + 1s;
    while (Clock::now() < end && g_recycled_uses.load() == 0 && lost.load() == 0) {
      int fds[2];
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
      auto s = internal::Socket::open(fds[0], "socketpair");
      ASSERT_TRUE(s.ok());
      internal::Socket* sock = s->get();
      std::atomic<bool> ran{false};
      runtime::PollHook hook;
      hook.fn = [&ran] { ran.store(true); };
      runtime::WaitGroup closer;
      closer.add(1);
      runtime::go([&] {  // the server shutting down: force-closes the connection
        spin_ns(thread_rand() % 20'000);
        (void)sock->close("close");
        closer.done();
      });
      bool started = false;
      if (!sock->arm_read_hook(&hook)) {  // readable already (closed): start it ourselves
        runtime::go(std::move(hook.fn));
        started = true;
      }
      spin_ns(thread_rand() % 10'000);
      if (!started && !sock->disarm_read_hook()) started = true;  // the poller (close) took it
      closer.wait();
      // A started hook runs soon (the close is news for a watcher); a disarmed one never.
      for (int i = 0; started && !ran.load() && i < 1000; ++i) runtime::sleep_for(1ms);
      if (started && !ran.load()) lost.fetch_add(1);
      if (ran.load()) fired.fetch_add(1);
      s->reset();
      close(fds[1]);
      rounds.fetch_add(1);
    }
  });
  runtime::set_race_hook_for_test(nullptr);
  std::printf("%llu rounds, %llu hooks started\n", static_cast<unsigned long long>(rounds.load()),
              static_cast<unsigned long long>(fired.load()));
  EXPECT_EQ(g_recycled_uses.load(), 0)
      << "a read hook was armed or disarmed on a recycled PollDesc";
  EXPECT_EQ(lost.load(), 0u) << "a hook reported as started never ran";
}

}  // namespace
}  // namespace spindle::net
