// Conn, dial and Listener over loopback TCP (IPv4, IPv6) and Unix sockets: round trips, end
// of stream, shutdown, deadlines, close from another goroutine, errors as values, no fd leaks.
#include "net/conn.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "net/listener.h"
#include "net/test_util.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"
#include "runtime/time.h"

namespace spindle::net {
namespace {

using namespace std::chrono_literals;
using base::Clock;
using base::Duration;
using base::TimePoint;
using runtime::WaitGroup;
using testing::count_open_fds;
using testing::serve_echo;

class ConnTest : public runtime::testing::RuntimeTest {
 protected:
  // Runs body with a descriptor-leak check around it.
  void run_checked(std::function<void()> body) {
    run([body = std::move(body)] {
      int before = count_open_fds();
      body();
      EXPECT_EQ(count_open_fds(), before) << "descriptors leaked";
    });
  }
};

std::string pattern(size_t n, size_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
}

// A client connected to a goroutine echo server; finish() closes both and joins the server.
struct EchoSession {
  Result<Listener> l = listen("127.0.0.1:0");
  WaitGroup wg;
  Result<Conn> c = Error::closed("dial");
  EchoSession() {
    EXPECT_TRUE(l.ok());
    serve_echo(&*l, &wg);
    c = dial(l->address(), 5s);
    EXPECT_TRUE(c.ok());
  }
  void finish() {
    EXPECT_TRUE(c->close().ok());
    EXPECT_TRUE(l->close().ok());
    wg.wait();
  }
};

// A client and the server's end of its connection, which nobody reads or writes.
struct QuietPair {
  Result<Listener> l = listen("127.0.0.1:0");
  Result<Conn> c = l ? dial(l->address(), 5s) : Result<Conn>(l.error());
  Result<Conn> server = l ? l->accept() : Result<Conn>(l.error());
  QuietPair() { EXPECT_TRUE(l.ok() && c.ok() && server.ok()); }
};

// Dials the listener, sends messages of several sizes (up to 1 MiB, which fills the socket
// buffers and parks both sides), and checks each echo.
void echo_round_trips(const Address& listen_at) {
  auto l = listen(listen_at);
  ASSERT_TRUE(l.ok()) << l.error().message();
  WaitGroup wg;
  serve_echo(&*l, &wg);
  {
    auto c = dial(l->address(), 5s);
    ASSERT_TRUE(c.ok()) << c.error().message();
    for (size_t size : {1ul, 64ul, 4096ul, 100'000ul, 1ul << 20}) {
      std::string msg = pattern(size, size);
      std::string reply(size, '\0');
      WaitGroup writer;
      writer.add(1);
      runtime::go([&c, &msg, &writer] {  // writer and reader in separate goroutines: 1 MiB
        auto w = c->write(msg);          // does not fit the buffers of both sockets
        EXPECT_TRUE(w.ok() && *w == msg.size()) << (w.ok() ? "short" : w.error().message());
        writer.done();
      });
      auto r = c->read_full(reply);
      writer.wait();  // the next writer may start only once this one has returned
      ASSERT_TRUE(r.ok()) << r.error().message();
      EXPECT_TRUE(reply == msg) << size;
    }
    EXPECT_TRUE(c->close().ok());
  }
  EXPECT_TRUE(l->close().ok());
  wg.wait();
}

TEST_P(ConnTest, EchoTcp4) {
  run_checked([] { echo_round_trips(*parse_address("127.0.0.1:0")); });
}

TEST_P(ConnTest, EchoTcp6) {
  run_checked([] {
    auto l = listen("[::1]:0");
    if (!l) {
      GTEST_SKIP() << "no IPv6 loopback: " << l.error().message();
    }
    EXPECT_TRUE(l->close().ok());
    echo_round_trips(*parse_address("[::1]:0"));
  });
}

TEST_P(ConnTest, EchoUnixPathAndAbstract) {
  run_checked([this] {
    std::string path = "/tmp/spindle-net-test-" + std::to_string(getpid()) + "-" +
                       std::to_string(procs()) + ".sock";
    echo_round_trips(*Address::unix_path(path));
    struct stat st;
    EXPECT_NE(lstat(path.c_str(), &st), 0) << "the listener removes its socket file on close";
    echo_round_trips(*Address::unix_path("@spindle-net-test-" + std::to_string(getpid())));
  });
}

TEST_P(ConnTest, Addresses) {
  run_checked([] {
    auto l = listen("127.0.0.1:0");
    ASSERT_TRUE(l.ok());
    EXPECT_NE(l->address().port(), 0);
    WaitGroup wg;
    Address server_peer;
    wg.add(1);
    runtime::go([&] {
      auto c = l->accept();
      ASSERT_TRUE(c.ok());
      server_peer = c->peer_address();
      auto local = c->local_address();
      ASSERT_TRUE(local.ok());
      EXPECT_TRUE(*local == l->address());
      EXPECT_TRUE(c->close().ok());  // before done(): the body's descriptor check follows wait()
      wg.done();
    });
    auto c = dial(l->address().to_string(), 5s);  // text form: resolve() then dial
    ASSERT_TRUE(c.ok()) << c.error().message();
    wg.wait();
    EXPECT_TRUE(c->peer_address() == l->address());
    auto local = c->local_address();
    ASSERT_TRUE(local.ok());
    EXPECT_TRUE(*local == server_peer);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    getsockopt(c->fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
    EXPECT_EQ(nodelay, 1) << "TCP_NODELAY is on by default";
  });
}

TEST_P(ConnTest, EofAndShutdown) {
  run_checked([] {
    auto l = listen("127.0.0.1:0");
    ASSERT_TRUE(l.ok());
    WaitGroup wg;
    wg.add(1);
    runtime::go([&] {
      auto c = l->accept();
      ASSERT_TRUE(c.ok());
      char buf[16];
      auto n = c->read(buf);  // the client's FIN
      ASSERT_TRUE(n.ok());
      EXPECT_EQ(*n, 0u);
      EXPECT_TRUE(c->write("after").ok()) << "our write side is still open";
      EXPECT_TRUE(c->shutdown(ShutdownHow::kWrite).ok());
      EXPECT_TRUE(c->close().ok());  // before done(): the body's descriptor check follows wait()
      wg.done();
    });
    auto c = dial(l->address(), 5s);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->shutdown(ShutdownHow::kWrite).ok());
    auto w = c->write("x");
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.error().code, EPIPE) << w.error().message();
    char got[5];
    EXPECT_TRUE(c->read_full(got).ok());
    EXPECT_EQ(std::string(got, 5), "after");
    char more[4];
    auto eof = c->read_full(more);
    ASSERT_FALSE(eof.ok());
    EXPECT_EQ(eof.error().kind, ErrorKind::kEof);
    auto n = c->read(more);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0u) << "end of stream stays end of stream";
    wg.wait();
    EXPECT_TRUE(l->close().ok());
  });
}

TEST_P(ConnTest, UnexpectedEof) {
  run_checked([] {
    auto l = listen("127.0.0.1:0");
    ASSERT_TRUE(l.ok());
    WaitGroup wg;
    wg.add(1);
    runtime::go([&] {
      auto c = l->accept();
      ASSERT_TRUE(c.ok());
      EXPECT_TRUE(c->write("abc").ok());
      wg.done();  // ~Conn closes
    });
    auto c = dial(l->address(), 5s);
    ASSERT_TRUE(c.ok());
    char buf[10];
    auto r = c->read_full(buf);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kUnexpectedEof);
    EXPECT_NE(r.error().message().find("unexpected EOF"), std::string::npos);
    wg.wait();
  });
}

// A short read marks the socket drained (the next read parks without a system call): later
// data, data followed by a close, and a reset must all still be seen.
TEST_P(ConnTest, DrainedReadsSeeLaterDataCloseAndReset) {
  run_checked([] {
    QuietPair q;
    char buf[64];
    ASSERT_TRUE(q.server->write("abc").ok());
    auto n = q.c->read(buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string_view(buf, *n), "abc");
    WaitGroup wrote;
    wrote.add(1);
    runtime::go([&] {
      runtime::sleep_for(20ms);
      EXPECT_TRUE(q.server->write("def").ok());
      wrote.done();
    });
    n = q.c->read(buf);  // parks first, then reads
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string_view(buf, *n), "def");
    wrote.wait();  // the writer has left write() before we write again
    // Bytes and the FIN queued together: the short read must not hide the end of stream.
    ASSERT_TRUE(q.server->write("xyz").ok());
    ASSERT_TRUE(q.server->close().ok());
    runtime::sleep_for(20ms);  // both have arrived (and the poller may have seen them)
    n = q.c->read(buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string_view(buf, *n), "xyz");
    n = q.c->read(buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0u);
  });
}

TEST_P(ConnTest, ReadDeadlineFires) {
  run_checked([] {
    EchoSession session;
    auto& c = session.c;
    auto start = Clock::now();
    ASSERT_TRUE(c->set_read_deadline(start + 100ms).ok());
    char buf[8];
    auto r = c->read(buf);
    auto elapsed = Clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().timeout()) << r.error().message();
    EXPECT_GE(elapsed, 100ms);
    EXPECT_LT(elapsed, 300ms);
    // A passed deadline stays passed, even with data ready.
    ASSERT_TRUE(c->write("ping").ok());
    runtime::sleep_for(20ms);
    auto again = c->read(buf);
    ASSERT_FALSE(again.ok());
    EXPECT_TRUE(again.error().timeout());
    // Moving it away makes the connection usable again.
    ASSERT_TRUE(c->set_read_deadline(TimePoint::max()).ok());
    ASSERT_TRUE(c->read_full(std::span<char>(buf, 4)).ok());
    EXPECT_EQ(std::string(buf, 4), "ping");
    session.finish();
  });
}

TEST_P(ConnTest, DeadlineSetWhileParkedWakesReader) {
  run_checked([] {
    EchoSession session;
    auto& c = session.c;
    auto& wg = session.wg;
    for (Duration later : {Duration(30ms), Duration(-1s)}) {  // in the future, in the past
      std::atomic<bool> done{false};
      wg.add(1);
      runtime::go([&] {
        char buf[8];
        auto r = c->read(buf);  // parks: nothing to read, no deadline yet
        EXPECT_FALSE(r.ok());
        EXPECT_TRUE(!r.ok() && r.error().timeout());
        done = true;
        wg.done();
      });
      runtime::sleep_for(20ms);  // likely parked by now; the result is the same if not
      EXPECT_FALSE(done.load());
      auto set_at = Clock::now();
      ASSERT_TRUE(c->set_read_deadline(set_at + later).ok());
      while (!done.load()) runtime::sleep_for(1ms);
      EXPECT_LT(Clock::now() - set_at, later.count() > 0 ? later + 200ms : Duration(200ms));
      ASSERT_TRUE(c->set_read_deadline(TimePoint::max()).ok());
    }
    session.finish();
  });
}

TEST_P(ConnTest, WriteDeadlineWhenPeerDoesNotRead) {
  run_checked([] {
    QuietPair pair;  // the server end never reads
    ASSERT_TRUE(pair.c.ok());
    auto& c = pair.c;
    ASSERT_TRUE(c->set_write_deadline(Clock::now() + 100ms).ok());
    std::string big(64 << 20, 'x');  // more than both socket buffers hold
    auto w = c->write(big);
    ASSERT_FALSE(w.ok());
    EXPECT_TRUE(w.error().timeout()) << w.error().message();
  });
}

TEST_P(ConnTest, CloseFromAnotherGoroutineWakesReaderAndWriter) {
  run_checked([] {
    QuietPair pair;  // the server end never reads nor writes
    ASSERT_TRUE(pair.c.ok());
    auto& c = pair.c;
    WaitGroup wg;
    wg.add(2);
    runtime::go([&] {
      char buf[8];
      auto r = c->read(buf);
      EXPECT_TRUE(!r.ok() && r.error().closed());
      wg.done();
    });
    runtime::go([&] {
      std::string big(64 << 20, 'x');
      auto w = c->write(big);
      EXPECT_TRUE(!w.ok() && w.error().closed());
      wg.done();
    });
    runtime::sleep_for(20ms);  // likely both parked; the outcome is the same if not
    ASSERT_TRUE(c->close().ok());
    wg.wait();
    auto second = c->close();
    EXPECT_TRUE(!second.ok() && second.error().closed());
    char buf[1];
    auto r = c->read(buf);
    EXPECT_TRUE(!r.ok() && r.error().closed());
    auto w = c->write("x");
    EXPECT_TRUE(!w.ok() && w.error().closed());
    EXPECT_TRUE(!c->set_deadline(TimePoint::max()).ok());
    Conn empty;
    EXPECT_TRUE(empty.read(buf).error().closed());
  });
}

TEST_P(ConnTest, ListenerCloseWakesAccept) {
  run_checked([] {
    auto l = listen("127.0.0.1:0");
    ASSERT_TRUE(l.ok());
    WaitGroup wg;
    wg.add(1);
    runtime::go([&] {
      auto c = l->accept();
      ASSERT_FALSE(c.ok());
      EXPECT_TRUE(c.error().closed()) << c.error().message();
      wg.done();
    });
    runtime::sleep_for(10ms);
    ASSERT_TRUE(l->close().ok());
    wg.wait();
    EXPECT_TRUE(l->accept().error().closed());
  });
}

TEST_P(ConnTest, AcceptDeadline) {
  run_checked([] {
    auto l = listen("127.0.0.1:0");
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE(l->set_deadline(Clock::now() + 50ms).ok());
    auto c = l->accept();
    ASSERT_FALSE(c.ok());
    EXPECT_TRUE(c.error().timeout());
  });
}

TEST_P(ConnTest, DialRefused) {
  run_checked([] {
    Address addr;
    {
      auto l = listen("127.0.0.1:0");
      ASSERT_TRUE(l.ok());
      addr = l->address();
    }  // closed: nothing listens on the port now
    auto c = dial(addr, 5s);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().kind, ErrorKind::kSystem);
    EXPECT_EQ(c.error().code, ECONNREFUSED);
    EXPECT_EQ(c.error().message(), "dial " + addr.to_string() + ": Connection refused");
    auto u = dial("unix:@spindle-nobody-listens-here", 5s);
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.error().code, ECONNREFUSED);
  });
}

// A listener with backlog 1 that never accepts: once its queue is full the kernel drops SYNs,
// so the next dial stays in SYN_SENT until its timeout.
TEST_P(ConnTest, DialTimeout) {
  run_checked([] {
    auto l = listen("127.0.0.1:0", ListenOptions{.backlog = 1});
    ASSERT_TRUE(l.ok());
    std::vector<Conn> queued;
    for (int i = 0; i < 16; ++i) {
      auto start = Clock::now();
      auto c = dial(l->address(), 100ms);
      if (c) {
        queued.push_back(std::move(*c));
        continue;
      }
      auto elapsed = Clock::now() - start;
      EXPECT_TRUE(c.error().timeout()) << c.error().message();
      EXPECT_EQ(c.error().message(), "dial " + l->address().to_string() + ": i/o timeout");
      EXPECT_GE(elapsed, 100ms);
      EXPECT_LT(elapsed, 300ms);
      return;
    }
    FAIL() << "16 dials to a full backlog all connected";
  });
}

TEST_P(ConnTest, WritevGathersAndHandlesPartialWrites) {
  run_checked([] {
    EchoSession session;
    auto& c = session.c;
    auto& wg = session.wg;
    // 200 parts (more than one iovec batch), some empty, some large enough to park.
    std::vector<std::string> storage;
    for (int i = 0; i < 200; ++i) {
      size_t size = i % 50 == 0 ? 300'000 : i % 7 == 0 ? 0 : static_cast<size_t>(i);
      storage.push_back(pattern(size, i));
    }
    std::vector<std::string_view> parts(storage.begin(), storage.end());
    std::string want;
    for (auto& s : storage) want += s;
    wg.add(1);
    runtime::go([&] {
      auto w = c->writev(parts);
      EXPECT_TRUE(w.ok() && *w == want.size());
      wg.done();
    });
    std::string got(want.size(), '\0');
    ASSERT_TRUE(c->read_full(got).ok());
    EXPECT_TRUE(got == want);
    session.finish();
  });
}

TEST_P(ConnTest, WriteToResetPeerIsAnErrorNotASignal) {
  run_checked([] {
    auto l = listen("127.0.0.1:0");
    ASSERT_TRUE(l.ok());
    auto c = dial(l->address(), 5s);
    ASSERT_TRUE(c.ok());
    {
      auto server = l->accept();
      ASSERT_TRUE(server.ok());
      linger lg{1, 0};  // close with RST
      setsockopt(server->fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    Result<size_t> w = size_t{0};
    for (int i = 0; i < 100 && w.ok(); ++i) w = c->write("data");
    ASSERT_FALSE(w.ok());
    EXPECT_TRUE(w.error().code == EPIPE || w.error().code == ECONNRESET) << w.error().message();
  });
}

TEST_P(ConnTest, ListenReuseportSharesOnePort) {
  run_checked([] {
    auto ls = listen_reuseport(*parse_address("127.0.0.1:0"), 3);
    ASSERT_TRUE(ls.ok()) << ls.error().message();
    ASSERT_EQ(ls->size(), 3u);
    for (auto& l : *ls) EXPECT_EQ(l.address().port(), (*ls)[0].address().port());
    auto taken = listen((*ls)[0].address());  // without SO_REUSEPORT: the port is taken
    ASSERT_FALSE(taken.ok());
    EXPECT_EQ(taken.error().code, EADDRINUSE);
  });
}

TEST_P(ConnTest, UnixListenRemovesOnlyStaleSockets) {
  run_checked([this] {
    std::string path = "/tmp/spindle-net-stale-" + std::to_string(getpid()) + "-" +
                       std::to_string(procs()) + ".sock";
    auto addr = *Address::unix_path(path);
    {  // a socket file whose owner went away without unlinking it
      int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      ASSERT_EQ(bind(fd, addr.sockaddr_ptr(), addr.sockaddr_len()), 0);
      ::close(fd);
    }
    auto l = listen(addr);
    ASSERT_TRUE(l.ok()) << l.error().message();
    auto busy = listen(addr);  // someone is accepting there: leave it alone
    ASSERT_FALSE(busy.ok());
    EXPECT_EQ(busy.error().code, EADDRINUSE);
    EXPECT_TRUE(l->close().ok());
    std::string file = path + ".txt";  // not a socket: never removed
    FILE* f = fopen(file.c_str(), "w");
    fclose(f);
    auto on_file = listen(*Address::unix_path(file));
    ASSERT_FALSE(on_file.ok());
    EXPECT_EQ(on_file.error().code, EADDRINUSE);
    struct stat st;
    EXPECT_EQ(lstat(file.c_str(), &st), 0);
    unlink(file.c_str());
  });
}

SPINDLE_INSTANTIATE_PROCS(ConnTest);

}  // namespace
}  // namespace spindle::net
