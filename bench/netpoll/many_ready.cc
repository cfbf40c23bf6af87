// spindle-many-ready: golang/go#65064's shape on loopback. `--conns` socket pairs, a server
// goroutine on one end of each (read 64 B, write it back) and a client goroutine on the other.
// Each round every client writes at once, so over a thousand sockets become ready together,
// then waits for its echo. Run with SPINDLE_NETPOLL=shared (Go's single epoll instance) and
// =sharded (one per P); bench/netpoll-shared-vs-sharded compares them.
//
// Prints RESULT lines: msgs_per_s, p50_us, p99_us (latency from round start to the echo),
// polls and events per message (netpoller counters).
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/channel.h"
#include "runtime/netpoll.h"
#include "runtime/runtime.h"

namespace {

using spindle::base::Clock;
using spindle::runtime::Chan;
using spindle::runtime::PollDesc;
using spindle::runtime::PollMode;
using spindle::runtime::PollStatus;

constexpr size_t kMsg = 64;

// Reads or writes exactly n bytes on a non-blocking fd, parking in the poller; false on EOF or
// error.
bool io_full(int fd, PollDesc* pd, char* buf, size_t n, bool write_side) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = write_side ? ::write(fd, buf + done, n - done) : ::read(fd, buf + done, n - done);
    if (r > 0) {
      done += static_cast<size_t>(r);
    } else if (r < 0 && errno == EAGAIN) {
      if (spindle::runtime::poll_wait(pd, write_side ? PollMode::kWrite : PollMode::kRead) !=
          PollStatus::kReady) {
        return false;
      }
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

struct End {
  int fd = -1;
  PollDesc* pd = nullptr;
};

long arg_long(int argc, char** argv, const char* name, long def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::strtol(argv[i + 1], nullptr, 10);
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const int conns = static_cast<int>(arg_long(argc, argv, "--conns", 4000));
  const int procs = static_cast<int>(arg_long(argc, argv, "--procs", 8));
  const double seconds = static_cast<double>(arg_long(argc, argv, "--millis", 3000)) / 1000.0;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (static_cast<rlim_t>(conns) * 2 + 64 > rl.rlim_cur) {
    std::fprintf(stderr, "spindle-many-ready: --conns %d needs %d descriptors, limit is %llu\n",
                 conns, conns * 2 + 64, static_cast<unsigned long long>(rl.rlim_cur));
    return 2;
  }

  spindle::runtime::Runtime rt(spindle::runtime::Options{.procs = procs, .stack_size = 64 << 10});
  std::vector<int64_t> latencies_ns;
  uint64_t messages = 0;
  double elapsed = 0;
  rt.run([&] {
    std::vector<End> servers(conns), clients(conns);
    for (int i = 0; i < conns; ++i) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        std::perror("socketpair");
        std::exit(1);
      }
      int err = 0;
      servers[i] = {sv[0], spindle::runtime::poll_open(sv[0], &err)};
      clients[i] = {sv[1], spindle::runtime::poll_open(sv[1], &err)};
    }
    for (int i = 0; i < conns; ++i) {
      spindle::runtime::go([end = servers[i]] {
        char buf[kMsg];
        while (io_full(end.fd, end.pd, buf, kMsg, false) &&
               io_full(end.fd, end.pd, buf, kMsg, true)) {
        }
      });
    }
    // Rounds: the driver releases every client at once, then collects one latency each.
    std::vector<Chan<int64_t>> go_signal(conns);
    auto done = spindle::runtime::make_chan<int64_t>(static_cast<size_t>(conns));
    for (int i = 0; i < conns; ++i) {
      go_signal[i] = spindle::runtime::make_chan<int64_t>(1);
      spindle::runtime::go([end = clients[i], sig = go_signal[i], done]() mutable {
        char buf[kMsg] = {};
        while (auto start = sig.recv()) {
          if (!io_full(end.fd, end.pd, buf, kMsg, true) ||
              !io_full(end.fd, end.pd, buf, kMsg, false)) {
            done.send(-1);
            continue;
          }
          done.send(Clock::now().time_since_epoch().count() - *start);
        }
      });
    }
    auto t0 = Clock::now();
    auto end_at = t0 + std::chrono::duration<double>(seconds);
    while (Clock::now() < end_at) {
      int64_t start = Clock::now().time_since_epoch().count();
      for (auto& s : go_signal) s.send(start);
      for (int i = 0; i < conns; ++i) {
        int64_t ns = *done.recv();
        if (ns >= 0) latencies_ns.push_back(ns);
      }
      messages += static_cast<uint64_t>(conns);
    }
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    for (auto& s : go_signal) s.close();
    for (int i = 0; i < conns; ++i) {
      spindle::runtime::poll_close(clients[i].pd);
      ::close(clients[i].fd);  // the server's read sees EOF and its goroutine ends
    }
    for (int i = 0; i < conns; ++i) {
      spindle::runtime::poll_close(servers[i].pd);
      ::close(servers[i].fd);
    }
  });
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto pct = [&](double q) {
    return latencies_ns.empty()
               ? 0.0
               : latencies_ns[static_cast<size_t>(q * (latencies_ns.size() - 1))] / 1e3;
  };
  spindle::runtime::Stats s = rt.stats();
  std::printf("RESULT msgs_per_s %.0f msgs/s\n", static_cast<double>(messages) / elapsed);
  std::printf("RESULT p50_us %.0f us\n", pct(0.50));
  std::printf("RESULT p99_us %.0f us\n", pct(0.99));
  std::printf(
      "RESULT polls_per_msg %.3f polls\n",
      static_cast<double>(s.netpoll_polls) / static_cast<double>(std::max<uint64_t>(messages, 1)));
  std::printf("RESULT events_per_poll %.1f events\n",
              static_cast<double>(s.netpoll_events) /
                  static_cast<double>(std::max<uint64_t>(s.netpoll_polls, 1)));
  return 0;
}
