// Server over loopback with raw sockets: keep-alive, pipelining, streaming bodies both ways
// (64 MiB with bounded buffers), 100-continue, HEAD, error answers with Connection: close,
// header-read and idle timeouts, the connection limit, graceful shutdown, client disconnects.
#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "http/head_parser.h"
#include "http/test_server.h"
#include "runtime/runtime.h"
#include "runtime/testing.h"
#include "runtime/time.h"

namespace spindle::http {
namespace {

using testing::dial;
using testing::read_all;
using testing::read_until_count;
using testing::TestServer;

class ServerTest : public runtime::testing::RuntimeTest {};

void hello(Request&, ResponseWriter& w) { (void)w.reply(200, "hello", {{"X-Test", "1"}}); }

TEST_P(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  run([] {
    TestServer s(hello);
    net::Conn c = dial(s);
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
      std::string r = read_until_count(c, "hello", 1);
      EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
      EXPECT_NE(r.find("Content-Length: 5\r\n"), std::string::npos);
    }
    c.close().ok();
    s.stop();
    EXPECT_EQ(s.server.stats().accepted, 1u);
    EXPECT_EQ(s.server.stats().requests, 100u);
  });
}

TEST_P(ServerTest, PipelinedRequestsAnsweredInOrder) {
  run([] {
    TestServer s([](Request& r, ResponseWriter& w) { (void)w.reply(200, r.target()); });
    net::Conn c = dial(s);
    std::string batch;
    for (int i = 0; i < 20; ++i)
      batch += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    batch += "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ASSERT_TRUE(c.write(batch).ok());
    std::string all = read_all(c);
    std::size_t pos = 0;
    for (int i = 0; i < 20; ++i) {
      pos = all.find("\r\n\r\n/" + std::to_string(i), pos);
      ASSERT_NE(pos, std::string::npos) << i;
    }
    EXPECT_NE(all.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(all.ends_with("/last"));
    s.stop();
  });
}

// 64 MiB in as a chunked request body, streamed back as a chunked response; the server's
// read buffer must stay small (peak asserted, not time).
TEST_P(ServerTest, LargeChunkedBodiesStreamBothWaysWithBoundedBuffers) {
  if (procs() > 2) GTEST_SKIP() << "one size is enough for the streaming test";
  run([] {
    TestServer s([](Request& r, ResponseWriter& w) {
      for (;;) {
        auto piece = r.body().next();
        ASSERT_TRUE(piece.ok());
        if (piece->empty()) break;
        ASSERT_TRUE(w.write(*piece).ok());
      }
    });
    net::Conn c = dial(s);
    constexpr std::size_t kTotal = 64 << 20, kChunk = 60000;
    runtime::WaitGroup wg;
    wg.add(1);
    runtime::go([&] {
      std::string chunk(kChunk, 'x');
      ASSERT_TRUE(
          c.write("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").ok());
      for (std::size_t sent = 0; sent < kTotal; sent += kChunk) {
        std::size_t n = std::min(kChunk, kTotal - sent);
        char line[32];
        int len = snprintf(line, sizeof line, "%zx\r\n", n);
        std::string_view parts[3] = {std::string_view(line, len), std::string_view(chunk.data(), n),
                                     "\r\n"};
        ASSERT_TRUE(c.writev(parts).ok());
      }
      ASSERT_TRUE(c.write("0\r\n\r\n").ok());
      wg.done();
    });
    // Decode the chunked response with the library's own decoder, counting body bytes.
    ReadBuffer in;
    ResponseParser p;
    for (;;) {
      auto r = p.parse(in.data());
      if (r.status == ParseStatus::kDone) {
        in.consume(r.consumed);
        break;
      }
      ASSERT_EQ(r.status, ParseStatus::kNeedMore);
      ASSERT_TRUE(in.fill(c, 4096, 65536).ok());
    }
    EXPECT_TRUE(p.head().chunked);
    in.pin();
    BodyReader body;
    body.start(&c, &in, response_framing(Method::kPost, p.head()), Side::kUpstream, {}, 10s);
    std::uint64_t got = 0;
    for (;;) {
      auto piece = body.next();
      ASSERT_TRUE(piece.ok()) << piece.error().message();
      if (piece->empty()) break;
      got += piece->size();
    }
    EXPECT_EQ(got, kTotal);
    wg.wait();
    c.close().ok();
    s.stop();
    EXPECT_LE(s.server.stats().peak_read_buffer, 128u * 1024) << "body was buffered";
  });
}

TEST_P(ServerTest, ExpectContinueSentOnFirstBodyRead) {
  run([] {
    TestServer s([](Request& r, ResponseWriter& w) {
      char buf[16];
      auto n = r.body().read(buf);
      (void)w.reply(200, n.ok() ? std::string_view(buf, *n) : "error");
    });
    net::Conn c = dial(s);
    ASSERT_TRUE(
        c.write("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            .ok());
    std::string first = read_until_count(c, "\r\n\r\n", 1);
    EXPECT_EQ(first, "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_TRUE(c.write("abcd").ok());
    std::string r = read_until_count(c, "abcd", 1);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK", 0), 0u) << r;
    c.close().ok();
    s.stop();
  });
}

// The head's views stay valid while the handler reads the body, also when the head was all
// the buffered data when it was parsed (the body arrives later, into the same buffer).
TEST_P(ServerTest, HeadFieldsSurviveReadingTheBody) {
  run([] {
    TestServer s([](Request& req, ResponseWriter& w) {
      std::size_t n = 0;
      for (;;) {
        auto piece = req.body().next();
        if (!piece || piece->empty()) break;
        n += piece->size();
      }
      const Header* h = req.headers().find("X-Check");
      (void)w.reply(200, std::to_string(n) + " " + std::string(h ? h->value : "missing") + " " +
                             std::string(req.target()));
    });
    net::Conn c = dial(s);
    ASSERT_TRUE(c.write("POST /target HTTP/1.1\r\nHost: x\r\nX-Check: intact\r\n"
                        "Content-Length: 20000\r\n\r\n")
                    .ok());
    runtime::sleep_for(50ms);  // the head alone is read first (not needed for correctness)
    ASSERT_TRUE(c.write(std::string(20000, 'b')).ok());
    std::string r = read_until_count(c, "/target", 1);
    EXPECT_NE(r.find("20000 intact /target"), std::string::npos) << r;
    c.close().ok();
    s.stop();
  });
}

TEST_P(ServerTest, HeadGetsLengthButNoBody) {
  run([] {
    TestServer s(hello);
    net::Conn c = dial(s);
    ASSERT_TRUE(c.write("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: "
                        "x\r\nConnection: close\r\n\r\n")
                    .ok());
    std::string all = read_all(c);
    std::size_t second = all.find("HTTP/1.1 200", 1);
    ASSERT_NE(second, std::string::npos) << all;
    std::string head_answer = all.substr(0, second);
    EXPECT_NE(head_answer.find("Content-Length: 5\r\n"), std::string::npos);
    EXPECT_TRUE(head_answer.ends_with("\r\n\r\n")) << "a body followed the HEAD answer";
    EXPECT_TRUE(all.ends_with("hello"));
    s.stop();
  });
}

TEST_P(ServerTest, ParseErrorsAnsweredWithStatusAndConnectionClose) {
  if (procs() > 1) GTEST_SKIP() << "table test: once";
  run([] {
    TestServer s(hello);
    struct Case {
      std::string request;
      const char* status;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", "400"},
        {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"},
        {"GET / HTTP/1.1\r\nHost: x\r\nBig: " + std::string(70000, 'a') + "\r\n\r\n", "431"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", "501"},
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505"},
        {"GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", "417"},
    };
    for (const Case& k : cases) {
      net::Conn c = dial(s);
      (void)c.write(k.request);
      std::string r = read_all(c);
      EXPECT_EQ(r.rfind(std::string("HTTP/1.1 ") + k.status, 0), 0u) << k.status << ": " << r;
      EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
    }
    EXPECT_EQ(s.server.stats().refused_requests, std::size(cases));
    s.stop();
  });
}

TEST_P(ServerTest, HeaderReadTimeoutAnswers408IdleTimeoutClosesSilently) {
  if (procs() > 2) GTEST_SKIP() << "timing: 1 and 2 Ps";
  run([] {
    ServerOptions o;
    o.read_header_timeout = 100ms;
    o.idle_timeout = 100ms;
    TestServer s(hello, o);
    net::Conn partial = dial(s);
    ASSERT_TRUE(partial.write("GET / HTTP/1.1\r\nHo").ok());
    std::string r = read_all(partial);
    EXPECT_EQ(r.rfind("HTTP/1.1 408", 0), 0u) << r;
    EXPECT_NE(r.find("Connection: close"), std::string::npos);
    net::Conn idle = dial(s);
    ASSERT_TRUE(idle.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    std::string first = read_until_count(idle, "hello", 1);
    EXPECT_NE(first.find("hello"), std::string::npos);
    EXPECT_EQ(read_all(idle), "") << "idle timeout closes without an answer";
    EXPECT_EQ(s.server.stats().refused_requests, 1u);  // the 408; the idle close answers nothing
    s.stop();
  });
}

TEST_P(ServerTest, ConnectionLimitAnswers503) {
  run([] {
    ServerOptions o;
    o.max_connections = 2;
    TestServer s(hello, o);
    net::Conn a = dial(s), b = dial(s);
    // Make sure both are being served before the third arrives.
    for (net::Conn* c : {&a, &b}) {
      ASSERT_TRUE(c->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
      read_until_count(*c, "hello", 1);
    }
    net::Conn third = dial(s);
    std::string r = read_all(third);
    EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
    EXPECT_NE(r.find("Connection: close"), std::string::npos);
    a.close().ok();
    b.close().ok();
    s.stop();
    EXPECT_EQ(s.server.stats().rejected, 1u);
  });
}

// Shutdown while a handler is in flight: its response completes (with Connection: close),
// an idle connection is closed, and shutdown returns after both.
TEST_P(ServerTest, GracefulShutdownFinishesInFlightClosesIdle) {
  run([] {
    runtime::WaitGroup entered, release;
    entered.add(1);
    release.add(1);
    TestServer s([&](Request& r, ResponseWriter& w) {
      if (r.target() == "/slow") {
        entered.done();
        release.wait();
      }
      (void)w.reply(200, "done");
    });
    net::Conn idle = dial(s);
    ASSERT_TRUE(idle.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    read_until_count(idle, "done", 1);
    net::Conn busy = dial(s);
    ASSERT_TRUE(busy.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    entered.wait();
    runtime::WaitGroup stopped;
    stopped.add(1);
    runtime::go([&] {
      s.stop();
      stopped.done();
    });
    EXPECT_EQ(read_all(idle), "") << "idle connection closed by shutdown";
    release.done();
    std::string r = read_all(busy);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK", 0), 0u) << r;
    EXPECT_NE(r.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(r.ends_with("done"));
    stopped.wait();
    EXPECT_FALSE(net::dial(s.l->address(), 1s).ok()) << "still accepting";
  });
}

TEST_P(ServerTest, ClientDisconnectIsReported) {
  run([] {
    TestServer s([&](Request& r, ResponseWriter& w) {
      Cancel& gone = r.disconnect();
      gone.arm();  // as the HTTP client does once an upstream request is out
      // A proxy would be waiting for its upstream here.
      const auto deadline = base::Clock::now() + 5s;
      while (!gone.canceled() && base::Clock::now() < deadline) runtime::sleep_for(1ms);
      EXPECT_TRUE(gone.canceled());
      (void)w.reply(200, "late");
    });
    net::Conn c = dial(s);
    ASSERT_TRUE(c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    runtime::sleep_for(10ms);  // not for correctness: lets the handler start watching first
    c.close().ok();
    s.stop();
  });
}

TEST_P(ServerTest, ChunkedResponseWhenLengthUnknownAndLarge) {
  run([] {
    TestServer s([](Request&, ResponseWriter& w) {
      ASSERT_TRUE(w.write_header(200, {{"Content-Type", "text/plain"}}).ok());
      std::string big(10000, 'z');
      ASSERT_TRUE(w.write(big).ok());
      ASSERT_TRUE(w.write(big).ok());
    });
    net::Conn c = dial(s);
    ASSERT_TRUE(c.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok());
    std::string r = read_all(c);
    EXPECT_NE(r.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << r.substr(0, 200);
    EXPECT_TRUE(r.ends_with("0\r\n\r\n"));
    s.stop();
  });
}

SPINDLE_INSTANTIATE_PROCS(ServerTest);

}  // namespace
}  // namespace spindle::http
