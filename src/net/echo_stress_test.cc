// 10,000 concurrent echo connections on loopback: a goroutine per server connection and one
// per client, all connected at once (a barrier), each doing round trips; afterwards the
// process has exactly the descriptors it had before.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "net/conn.h"
#include "net/listener.h"
#include "net/test_util.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::net {
namespace {

using namespace std::chrono_literals;
using testing::count_open_fds;

class EchoStressTest : public runtime::testing::RuntimeTest {};

constexpr int kConnections = 10'000;

// Raises RLIMIT_NOFILE so that both ends of n connections fit; returns how many fit.
int make_room_for(int n) {
  rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  rlim_t want = static_cast<rlim_t>(2 * n + 1000);
  if (r.rlim_max < want) {
    rlimit raised{want, want};  // needs CAP_SYS_RESOURCE; fine to fail
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return n;
  }
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  int fit = static_cast<int>((r.rlim_cur - 1000) / 2);
  return fit < n ? fit : n;
}

// One client: dial, a round trip, wait until every client is connected, another round trip.
void client(const Address& addr, int id, runtime::WaitGroup* connected, std::atomic<int>* ok) {
  auto c = dial(addr, 30s);
  if (!c) {
    ADD_FAILURE() << c.error().message();
    connected->done();
    return;
  }
  std::string msg = "client " + std::to_string(id) + " says hello";
  std::string reply(msg.size(), '\0');
  bool good = c->write(msg).ok() && c->read_full(reply).ok() && reply == msg;
  connected->done();
  connected->wait();  // all kConnections are open at this point
  good = good && c->write(msg).ok() && c->read_full(reply).ok() && reply == msg;
  if (good) ok->fetch_add(1);
}

TEST_P(EchoStressTest, TenThousandConcurrentConnections) {
  const int n = make_room_for(kConnections);
  if (n < kConnections) {
    std::fprintf(stderr, "RLIMIT_NOFILE allows only %d connections (of %d)\n", n, kConnections);
  }
  run([n] {
    const int baseline = count_open_fds();
    auto l = listen("127.0.0.1:0");
    ASSERT_TRUE(l.ok()) << l.error().message();
    runtime::WaitGroup server;
    testing::serve_echo(&*l, &server);
    runtime::WaitGroup clients, connected;
    std::atomic<int> ok{0};
    clients.add(n);
    connected.add(n);
    Address addr = l->address();
    for (int i = 0; i < n; ++i) {
      runtime::go([&, i] {
        client(addr, i, &connected, &ok);
        clients.done();
      });
    }
    clients.wait();
    EXPECT_EQ(ok.load(), n);
    EXPECT_TRUE(l->close().ok());
    server.wait();
    EXPECT_EQ(count_open_fds(), baseline) << "descriptors leaked";
  });
}

// Two processor counts keep the run short; the other tests cover 1, 2, 4 and 8.
INSTANTIATE_TEST_SUITE_P(Procs, EchoStressTest, ::testing::Values(1, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "P" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace spindle::net
