// Running out of descriptors on accept (Go's HTTP server once died on accept errors): with a low
// RLIMIT_NOFILE and a flood of connections, the listener backs off instead of failing or spinning,
// and serves again once connections close.
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "net/conn.h"
#include "net/listener.h"
#include "net/test_util.h"
#include "runtime/blocking.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"
#include "runtime/time.h"

namespace spindle::net {
namespace {

using namespace std::chrono_literals;
using base::Clock;
using testing::count_open_fds;

class EmfileTest : public runtime::testing::RuntimeTest {};

constexpr int kFlood = 100;

// The RLIMIT_NOFILE that leaves exactly `free` descriptor numbers to allocate: new descriptors
// take the lowest free numbers and must stay below the limit; open ones above it stay valid.
rlim_t limit_leaving(int free) {
  std::set<int> open;
  DIR* d = opendir("/proc/self/fd");
  const int self = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.' && atoi(e->d_name) != self) open.insert(atoi(e->d_name));
  }
  closedir(d);
  int fd = 0;
  for (int seen = 0;; ++fd) {
    if (!open.count(fd) && ++seen == free) break;
  }
  return static_cast<rlim_t>(fd + 1);
}

TEST_P(EmfileTest, ListenerBacksOffAndServesAgain) {
  run([] {
    const int baseline = count_open_fds();
    auto l = listen("127.0.0.1:0", ListenOptions{.backlog = 512});
    ASSERT_TRUE(l.ok());
    runtime::WaitGroup wg;
    testing::serve_echo(&*l, &wg);
    const uint64_t backoffs_before = l->backoffs();
    // The flood's own sockets exist before the limit drops; connecting needs no new
    // descriptor. The kernel completes the handshakes (backlog 512) whether or not the
    // server accepts.
    std::vector<int> clients;
    for (int i = 0; i < kFlood; ++i)
      clients.push_back(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    {
      testing::ScopedFdLimit limit(limit_leaving(10));  // room for 10 accepted conns
      sockaddr_in sin{};
      std::memcpy(&sin, l->address().sockaddr_ptr(), sizeof sin);
      runtime::blocking([&] {
        for (int fd : clients) {
          ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0) << errno;
        }
      });
      // The server runs out of descriptors and backs off.
      auto deadline = Clock::now() + 5s;
      while (l->backoffs() == backoffs_before && Clock::now() < deadline) {
        runtime::sleep_for(1ms);
      }
      ASSERT_GT(l->backoffs(), backoffs_before) << "accept never hit EMFILE";
      // No spinning: 5 ms doubling makes about 5 attempts in 150 ms.
      uint64_t at = l->backoffs();
      runtime::sleep_for(150ms);
      EXPECT_LE(l->backoffs() - at, 8u);
      EXPECT_GE(Listener::total_backoffs(), l->backoffs() - backoffs_before);
      // The flood goes away: its connections end, the server's descriptors are freed.
      for (int fd : clients) ::close(fd);
      // Still under the low limit, a new client is served (within the 1 s back-off cap).
      auto c = dial(l->address(), 5s);
      ASSERT_TRUE(c.ok()) << c.error().message();
      ASSERT_TRUE(c->set_deadline(Clock::now() + 5s).ok());
      ASSERT_TRUE(c->write("still serving").ok());
      char buf[13];
      auto r = c->read_full(buf);
      ASSERT_TRUE(r.ok()) << r.error().message();
      EXPECT_EQ(std::string(buf, sizeof buf), "still serving");
    }
    EXPECT_TRUE(l->close().ok());
    wg.wait();
    EXPECT_EQ(count_open_fds(), baseline) << "descriptors leaked";
  });
}

SPINDLE_INSTANTIATE_PROCS(EmfileTest);

}  // namespace
}  // namespace spindle::net
