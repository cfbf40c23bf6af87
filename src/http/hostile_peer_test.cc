// What a hostile or broken peer can send, end to end over loopback: chunk lines and trailer
// sections at and past the limits, from a client (through the Server) and from a backend
// (through the Client). Everything past a limit is an answer or an error value and a closed
// connection, never a fatal check, however the bytes are cut.
#include <gtest/gtest.h>

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
        (void)c->set_deadline(runtime::Clock::now() + 10s);
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

SPINDLE_INSTANTIATE_PROCS(HostilePeerTest);

}  // namespace
}  // namespace spindle::http
