// What a hostile or broken peer can send, end to end over loopback: chunk lines and trailer
// sections at and past the limits, from a client (through the Server) and from a backend
// (through the Client). Everything past a limit is an answer or an error value and a closed
// connection, never a fatal check, however the bytes are cut.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "http/client.h"
#include "http/server.h"
#include "http/test_server.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::http {
namespace {

using testing::dial;
using testing::read_all;
using testing::TestServer;

class HostilePeerTest : public runtime::testing::RuntimeTest {};

// Reads the whole body, as a proxy does; a body error is answered with its status.
void read_whole_body(Request& r, ResponseWriter& w) {
  std::uint64_t n = 0;
  for (;;) {
    auto piece = r.body().next();
    if (!piece) {
      const Error& e = piece.error();
      (void)w.reply(e.status != 0 ? e.status : 400, e.detail + "\n");
      return;
    }
    if (piece->empty()) break;
    n += piece->size();
  }
  (void)w.reply(200, "got " + std::to_string(n));
}

std::string trailers(int count, std::size_t line_size) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    std::string name = "X-T" + std::to_string(i) + ": ";
    out += name + std::string(line_size - name.size() - 2, 'v') + "\r\n";
  }
  return out;
}

// Chunked bodies (after the head) at and past the limits of the default Limits: chunk line
// 4 KiB, trailer section 16 KiB, 100 trailer fields.
struct BodyCase {
  const char* name;
  std::string body;
  const char* status;  // the client's answer; a backend's is a failed body read
};

std::vector<BodyCase> body_cases() {
  return {
      {"extension of 5,000 bytes", "3;" + std::string(5000, 'e') + "\r\nabc\r\n0\r\n\r\n", "400"},
      {"chunk line of exactly 4 KiB", "3;" + std::string(4096 - 4, 'e') + "\r\nabc\r\n0\r\n\r\n",
       "200"},
      {"trailer line of 20 KB", "3\r\nabc\r\n0\r\n" + trailers(1, 20000) + "\r\n", "431"},
      {"300 trailers of 106 bytes", "3\r\nabc\r\n0\r\n" + trailers(300, 106) + "\r\n", "431"},
      {"trailer section of exactly 16 KiB",
       "3\r\nabc\r\n0\r\n" + trailers(1, 16 * 1024 - 2) + "\r\n", "200"},
      {"chunk size with 5,000 leading zeros", std::string(5000, '0') + "3\r\nabc\r\n0\r\n\r\n",
       "400"},
  };
}

constexpr const char* kChunkedHead =
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

TEST_P(HostilePeerTest, ChunkLinesAndTrailersPastTheLimitsAreAnsweredNotFatal) {
  if (procs() > 2) GTEST_SKIP() << "table test: 1 and 2 Ps";
  run([] {
    TestServer s(read_whole_body);
    for (const BodyCase& k : body_cases()) {
      for (std::size_t piece : {std::size_t{0}, std::size_t{700}}) {  // whole, or in pieces
        net::Conn c = dial(s);
        const std::string request = kChunkedHead + k.body;
        if (piece == 0) {
          ASSERT_TRUE(c.write(request).ok());
        } else {
          for (std::size_t at = 0; at < request.size(); at += piece) {
            if (!c.write(std::string_view(request).substr(at, piece))) break;
          }
        }
        if (std::string_view(k.status) == "200") {
          ASSERT_TRUE(c.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok());
        }
        std::string r = read_all(c);
        // (Not SCOPED_TRACE: its stack is per thread, and a goroutine may change threads.)
        const std::string what =
            std::string(k.name) + (piece ? ", in pieces" : ", whole") + ": " + r.substr(0, 300);
        EXPECT_EQ(r.rfind(std::string("HTTP/1.1 ") + k.status, 0), 0u) << what;
        if (std::string_view(k.status) == "200") {
          EXPECT_NE(r.find("got 3"), std::string::npos) << what;
          EXPECT_NE(r.find("HTTP/1.1 200", 1), std::string::npos) << "not kept alive: " << what;
        }
        (void)c.close();
      }
    }
    s.stop();
  });
}

// A backend on a raw listener: for each connection, reads one request head and writes
// `response`, then closes.
struct RawBackend {
  net::Result<net::Listener> l = net::listen("127.0.0.1:0");
  runtime::WaitGroup wg;
  std::string response;

  explicit RawBackend(std::string r) : response(std::move(r)) {
    EXPECT_TRUE(l.ok());
    wg.add(1);
    runtime::go([this] {
      for (;;) {
        auto c = l->accept();
        if (!c) break;
        (void)c->set_deadline(base::Clock::now() + 10s);
        std::string head;
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
          auto n = c->read(buf);
          if (!n || *n == 0) break;
          head.append(buf, *n);
        }
        (void)c->write(response);
        (void)c->close();
      }
      wg.done();
    });
  }
  std::string address() const { return l->address().to_string(); }
  void stop() {
    (void)l->close();
    wg.wait();
  }
};

TEST_P(HostilePeerTest, BackendChunkLinesAndTrailersPastTheLimitsFailTheBodyRead) {
  if (procs() > 2) GTEST_SKIP() << "table test: 1 and 2 Ps";
  run([] {
    for (const BodyCase& k : body_cases()) {
      RawBackend backend("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + k.body);
      {
        Client client;
        auto r = client.send(backend.address(), ClientRequest{});
        ASSERT_TRUE(r.ok()) << k.name << ": " << r.error().message();
        std::string body;
        Result<std::string_view> piece = std::string_view();
        while ((piece = r->body().next()) && !piece->empty()) body += *piece;
        if (std::string_view(k.status) == "200") {
          ASSERT_TRUE(piece.ok()) << k.name << ": " << piece.error().message();
          EXPECT_EQ(body, "abc") << k.name;
        } else {
          ASSERT_FALSE(piece.ok()) << k.name;
          EXPECT_EQ(piece.error().side, Side::kUpstream) << k.name;
          EXPECT_EQ(piece.error().status, 502) << k.name;
        }
      }
      backend.stop();
    }
  });
}

// A proxy whose upstream body fails before anything went out answers 502 instead of a
// truncated response: retract() takes back a head and body that are still buffered.
TEST_P(HostilePeerTest, RetractTakesBackAResponseNothingOfWhichWasSent) {
  run([] {
    TestServer s([](Request& r, ResponseWriter& w) {
      ASSERT_TRUE(w.write_header(200, {{"X-Upstream", "1"}}).ok());
      ASSERT_TRUE(w.write("partial").ok());
      if (r.target() == "/flushed") {
        ASSERT_TRUE(w.flush().ok());
        EXPECT_FALSE(w.retract());
        w.abort();
        return;
      }
      ASSERT_TRUE(w.retract());
      (void)w.reply(502, "bad gateway");
    });
    net::Conn c = dial(s);
    ASSERT_TRUE(c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /flushed HTTP/1.1\r\nHost: x\r\n\r\n")
                    .ok());
    std::string r = read_all(c);
    EXPECT_EQ(r.rfind("HTTP/1.1 502 Bad Gateway\r\n", 0), 0u) << r;
    EXPECT_EQ(r.find("X-Upstream"), r.find("X-Upstream", r.find("HTTP/1.1 200"))) << r;
    const std::size_t second = r.find("HTTP/1.1 200 OK\r\n");
    ASSERT_NE(second, std::string::npos) << r;
    EXPECT_NE(r.find("bad gateway"), std::string::npos) << r;
    EXPECT_FALSE(r.ends_with("0\r\n\r\n")) << "the aborted response looks complete: " << r;
    s.stop();
  });
}

void hello(Request&, ResponseWriter& w) { (void)w.reply(200, "hello"); }

// Reads until end of stream, or returns what came within the test's deadline.
std::string read_until(net::Conn& c, std::string_view marker) {
  return testing::read_until_count(c, marker, 1);
}

// A response waits in the output batch only while the next request is complete in the
// buffer: a partial next head or body is read from the socket, which may take long.
TEST_P(HostilePeerTest, PipelinedResponseGoesOutWhileTheNextRequestIsIncomplete) {
  run([] {
    ServerOptions o;
    o.read_header_timeout = 1h;  // a held response would only come out with a 408
    o.body_read_timeout = 1h;
    TestServer s(read_whole_body, o);
    net::Conn c = dial(s);  // reads time out after 10 s: a held response fails the test
    ASSERT_TRUE(c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\nabc").ok());
    std::string r = read_until(c, "got 0");
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    ASSERT_TRUE(c.write(" / HTTP/1.1\r\nHost: x\r\n\r\n"
                        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
                    .ok());
    r = read_until(c, "got 0");  // the answer to "abc / HTTP/1.1": the POST's body is partial
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    ASSERT_TRUE(c.write("67890").ok());
    r = read_until(c, "got 10");
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    (void)c.close();
    s.stop();
  });
}

// Valid, invalid, valid, pipelined: the first is answered, then the error, then the
// connection closes; the third never reaches the handler.
TEST_P(HostilePeerTest, ResponsesBeforeARejectedPipelinedRequestAreSent) {
  run([] {
    std::atomic<int> served{0};
    TestServer s([&](Request& r, ResponseWriter& w) {
      served.fetch_add(1);
      (void)w.reply(200, r.target());
    });
    net::Conn c = dial(s);
    const std::string batch = std::string("GET /first HTTP/1.1\r\nHost: x\r\n\r\n") +
                              "GET /bad HTTP/1.1\r\nHost: x\r\nX: a" + '\0' + "b\r\n\r\n" +
                              "GET /third HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_TRUE(c.write(batch).ok());
    std::string r = read_all(c);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    const std::size_t first = r.find("/first");
    const std::size_t error = r.find("HTTP/1.1 400 ");
    ASSERT_NE(first, std::string::npos) << r;
    ASSERT_NE(error, std::string::npos) << r;
    EXPECT_LT(first, error) << r;
    EXPECT_NE(r.find("Connection: close\r\n", error), std::string::npos) << r;
    EXPECT_EQ(r.find("/third"), std::string::npos) << r;
    EXPECT_EQ(served.load(), 1);
    (void)c.close();
    s.stop();
  });
}

// Every answer after which the server closes says so: body framing errors the handler saw.
TEST_P(HostilePeerTest, BodyFramingErrorAnswersSayConnectionClose) {
  if (procs() > 2) GTEST_SKIP() << "table test: 1 and 2 Ps";
  run([] {
    TestServer s(read_whole_body);
    const char* bodies[] = {
        "zz\r\nabc\r\n0\r\n\r\n",            // bad chunk size
        "3\nabc\r\n0\r\n\r\n",               // bare LF in a chunk line
        "3\r\nabcd\r\n0\r\n\r\n",            // chunk data longer than its size
        "3\r\nabc\r\n0\r\nbad\r\n\r\n",      // a trailer without a colon
        "3\r\nabc\r\n0\r\nX: \x01\r\n\r\n",  // a control character in a trailer
    };
    for (const char* body : bodies) {
      net::Conn c = dial(s);
      ASSERT_TRUE(c.write(std::string(kChunkedHead) + body).ok());
      std::string r = read_all(c);
      EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << body << ": " << r;
      EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << body << ": " << r;
      (void)c.close();
    }
    s.stop();
  });
}

// A body the handler did not read that will not arrive (the client waits for 100 Continue)
// closes the connection: the answer says so.
TEST_P(HostilePeerTest, UnreadBodyAwaitingContinueAnswerSaysConnectionClose) {
  run([] {
    TestServer s(hello);
    net::Conn c = dial(s);
    ASSERT_TRUE(c.write("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                        "Content-Length: 100000\r\n\r\n")
                    .ok());
    std::string r = read_all(c);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    EXPECT_EQ(r.find("100 Continue"), std::string::npos) << r;
    EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
    (void)c.close();
    s.stop();
  });
}

// A handler refuses a 10 MB upload without reading it (a 413): the client, which sends the
// whole body before it reads (no Expect), gets the answer and a clean end of stream, not a
// reset. HTTP/1.0 keep-alive too: its "Connection: keep-alive" becomes "close".
TEST_P(HostilePeerTest, LargeUnreadBodyIsAnsweredThenLingeringClose) {
  if (procs() > 2) GTEST_SKIP() << "1 and 2 Ps";
  run([] {
    TestServer s([](Request&, ResponseWriter& w) { (void)w.reply(413, "too large"); });
    for (const char* version : {"1.1", "1.0"}) {
      net::Conn c = dial(s);
      constexpr std::size_t kBody = 10 << 20;
      const std::string head =
          std::string("POST / HTTP/") + version +
          "\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: " + std::to_string(kBody) +
          "\r\n\r\n";
      ASSERT_TRUE(c.write(head).ok());
      const std::string chunk(64 * 1024, 'b');
      for (std::size_t sent = 0; sent < kBody; sent += chunk.size()) {
        auto w = c.write(chunk);
        ASSERT_TRUE(w.ok()) << version << ": writing the body failed at " << sent << ": "
                            << w.error().message();
      }
      std::string r = read_all(c);
      EXPECT_EQ(r.rfind("HTTP/1.1 413 ", 0), 0u) << version << ": " << r;
      EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
      EXPECT_EQ(r.find("keep-alive"), std::string::npos) << r;
      EXPECT_TRUE(r.ends_with("too large")) << r;
      (void)c.close();
    }
    s.stop();
  });
}

// A handler answers without reading a body that is still on its way: the answer goes out at
// once (not after the body); with "Connection: close" from the handler the connection closes
// without waiting for the body either.
TEST_P(HostilePeerTest, AnswerToAnUnreadBodyInTransitIsNotHeldBack) {
  run([] {
    ServerOptions o;
    o.body_read_timeout = 1h;  // a held answer would wait for the body
    TestServer s(
        [](Request& r, ResponseWriter& w) {
          if (r.target() == "/close") {
            (void)w.reply(503, "overloaded", {{"Connection", "close"}});
          } else {
            (void)w.reply(503, "overloaded");
          }
        },
        o);
    net::Conn c = dial(s);
    ASSERT_TRUE(
        c.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789").ok());
    std::string r = read_until(c, "overloaded");
    EXPECT_EQ(r.rfind("HTTP/1.1 503 ", 0), 0u) << r;
    EXPECT_EQ(r.find("Connection: close"), std::string::npos) << r;
    ASSERT_TRUE(c.write(std::string(990, 'x')).ok());  // the rest is dropped: kept alive
    ASSERT_TRUE(
        c.write("POST /close HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123").ok());
    r = read_all(c);
    EXPECT_EQ(r.rfind("HTTP/1.1 503 ", 0), 0u) << r;
    EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
    (void)c.close();
    s.stop();
  });
}

// The head arrives alone (the client waits for 100 Continue), then the body: the head's views
// stay valid while and after the body is read.
TEST_P(HostilePeerTest, HeadViewsSurviveABodyThatArrivesLater) {
  run([] {
    TestServer s([](Request& r, ResponseWriter& w) {
      std::string body;
      for (;;) {
        auto piece = r.body().next();
        if (!piece || piece->empty()) break;
        body += *piece;
      }
      const Header* name = r.headers().find("X-Name");
      (void)w.reply(200, std::string(r.method_token()) + " " + std::string(r.target()) + " " +
                             std::string(name != nullptr ? name->value : "?") + " " + body);
    });
    net::Conn c = dial(s);
    ASSERT_TRUE(c.write("PUT /target HTTP/1.1\r\nHost: x\r\nX-Name: value\r\n"
                        "Expect: 100-continue\r\nContent-Length: 200\r\n\r\n")
                    .ok());
    std::string r = read_until(c, "100 Continue\r\n\r\n");
    ASSERT_EQ(r, "HTTP/1.1 100 Continue\r\n\r\n");
    const std::string body(200, 'b');
    ASSERT_TRUE(c.write(body).ok());
    r = read_until(c, body);
    EXPECT_TRUE(r.ends_with("\r\n\r\nPUT /target value " + body)) << r;
    (void)c.close();
    s.stop();
  });
}

SPINDLE_INSTANTIATE_PROCS(HostilePeerTest);

}  // namespace
}  // namespace spindle::http
