// 10,000 concurrent echo connections on loopback: a goroutine per server connection in this
// process, and 10,000 client goroutines in a child process (this test binary again), all
// connected at once (a barrier), each doing round trips. Two processes because both ends of
// 10k connections are 20k descriptors, and RLIMIT_NOFILE's hard limit here is 20000. Both
// processes end with exactly the descriptors they had before.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/conn.h"
#include "net/listener.h"
#include "net/test_util.h"
#include "runtime/blocking.h"
#include "runtime/runtime.h"
#include "runtime/sync/semaphore.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

extern char** environ;

namespace spindle::net {
namespace {

using namespace std::chrono_literals;
using testing::count_open_fds;

#if defined(SPINDLE_TSAN)
// Each goroutine is a TSan fiber with its own thread state; 10k of them (server side) exhaust
// TSan's internal allocator. Release and ASan builds run the full 10k.
constexpr int kConnections = 2'000;
#else
constexpr int kConnections = 10'000;
#endif
constexpr const char* kTargetEnv = "SPINDLE_NET_STRESS_TARGET";

void raise_fd_limit_to_hard() {
  rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
}

// One client: dial, a round trip, wait until every client is connected, another round trip.
// At most kDialsInFlight connects are outstanding at once: 10k simultaneous SYNs overflow the
// listener's accept queue when the server is slow (sanitizers) and the kernel resets them.
// All 10k connections are still open together.
constexpr int kDialsInFlight = 256;

void client(const Address& addr, int id, runtime::WaitGroup* connected, std::atomic<int>* ok,
            runtime::Semaphore* dials) {
  dials->acquire();
  auto c = dial(addr, 30s);
  dials->release();
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

// The client process: started by the test below with kTargetEnv set; skipped otherwise.
TEST(EchoStressClient, Run) {
  const char* target = std::getenv(kTargetEnv);
  if (target == nullptr) GTEST_SKIP() << "the client process of TenThousandConcurrentConnections";
  raise_fd_limit_to_hard();
  runtime::Runtime rt(runtime::Options{.procs = 2});
  rt.run([target] {
    const int baseline = count_open_fds();
    auto addr = parse_address(target);
    ASSERT_TRUE(addr.ok());
    runtime::WaitGroup clients, connected;
    runtime::Semaphore dials(kDialsInFlight);
    std::atomic<int> ok{0};
    clients.add(kConnections);
    connected.add(kConnections);
    for (int i = 0; i < kConnections; ++i) {
      runtime::go([&, i] {
        client(*addr, i, &connected, &ok, &dials);
        clients.done();
      });
    }
    clients.wait();
    EXPECT_EQ(ok.load(), kConnections);
    EXPECT_EQ(count_open_fds(), baseline) << "client descriptors leaked";
  });
}

// Runs this binary's EchoStressClient.Run against addr; returns its exit status.
int run_client_process(const Address& addr) {
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  env_storage.push_back(std::string(kTargetEnv) + "=" + addr.to_string());
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe", filter = "--gtest_filter=EchoStressClient.Run";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()) != 0) return -1;
  int status = 0;
  runtime::blocking([&] { waitpid(pid, &status, 0); });
  return status;
}

class EchoStressTest : public runtime::testing::RuntimeTest {};

TEST_P(EchoStressTest, TenThousandConcurrentConnections) {
  raise_fd_limit_to_hard();
  run([] {
    const int baseline = count_open_fds();
    auto l = listen("127.0.0.1:0");
    ASSERT_TRUE(l.ok()) << l.error().message();
    runtime::WaitGroup server;
    testing::serve_echo(&*l, &server);
    int status = run_client_process(l->address());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "client process: " << status;
    EXPECT_TRUE(l->close().ok());
    server.wait();
    EXPECT_EQ(count_open_fds(), baseline) << "server descriptors leaked";
  });
}

// Two processor counts keep the run short; the other tests cover 1, 2, 4 and 8.
INSTANTIATE_TEST_SUITE_P(Procs, EchoStressTest, ::testing::Values(1, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "P" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace spindle::net
