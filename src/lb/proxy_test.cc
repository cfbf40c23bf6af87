// In-process proxy tests: a Proxy on an http::Server on :0 in front of backends that are
// http::Servers (or raw listeners for misbehaviour) on :0. Process-level tests of spindle-lb
// live in tests/lb/.
#include "lb/proxy.h"

#include <gtest/gtest.h>

#include "http/test_server.h"
#include "runtime/profile/cpu_profile.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"
#include "runtime/time.h"

namespace spindle::lb {
namespace {

using namespace std::chrono_literals;
using base::Clock;
using http::testing::TestServer;

class ProxyTest : public runtime::testing::RuntimeTest {};

// The balancer minus flags: registry, round-robin, admission, proxy, server.
struct Lb {
  http::Client upstream;
  Registry registry;
  std::unique_ptr<Picker> picker = make_round_robin();
  Admission admission;
  Proxy proxy;
  TestServer server;

  explicit Lb(http::ClientOptions co = {}, std::int64_t limit = 0, base::Duration queue = 100ms,
              std::uint64_t max_body = 0)
      : Lb(co, limit, queue, BodyOptions{.max_size = max_body}) {}
  Lb(http::ClientOptions co, std::int64_t limit, base::Duration queue, BodyOptions body)
      : upstream(co),
        registry({}, [this](const std::string& a) -> http::HostPool& { return upstream.pool(a); }),
        admission(limit, queue),
        proxy(registry, *picker, admission, body),
        server([this](http::Request& req, http::ResponseWriter& w) { proxy.serve(req, w); }) {}
  void add(const std::string& address) {
    registry.add(*parse_backend_url("http://" + address), "", 1, true, Clock::now());
  }
};

struct Reply {
  int status = 0;
  std::string body;
  std::string retry_after;
};

Reply get(const std::string& address, http::Method m = http::Method::kGet,
          std::string_view body = {}) {
  http::Client c;
  http::ClientRequest req;
  req.method = m;
  req.target = "/path?q=1";
  http::StringBody b(body);
  if (!body.empty()) {
    req.body = &b;
    req.content_length = body.size();
  }
  auto r = c.send(address, req);
  if (!r) return Reply{-1, r.error().message(), ""};
  Reply out{r->status(), "", ""};
  if (auto* h = r->headers().find("Retry-After")) out.retry_after = std::string(h->value);
  for (;;) {
    auto piece = r->body().next();
    if (!piece || piece->empty()) break;
    out.body += *piece;
  }
  return out;
}

// Reads a request head from c (up to its blank line), giving up after 5 s.
void read_request_head(net::Conn& c) {
  std::string got;
  char buf[4096];
  (void)c.set_deadline(Clock::now() + 5s);
  while (got.find("\r\n\r\n") == std::string::npos) {
    auto r = c.read(buf);
    if (!r || *r == 0) break;
    got.append(buf, *r);
  }
}

// A backend that answers each connection's first request by closing the connection (no
// response byte) for the first `failures` connections, then "ok" with Connection: close.
struct FlakyBackend {
  net::Listener l = std::move(*net::listen("127.0.0.1:0"));
  runtime::WaitGroup wg;
  std::atomic<int> conns{0};
  int failures;
  explicit FlakyBackend(int f) : failures(f) {
    wg.add(1);
    runtime::go([this] {
      for (;;) {
        auto c = l.accept();
        if (!c) break;
        int n = conns.fetch_add(1);
        read_request_head(*c);
        if (n >= failures) {
          (void)c->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
        (void)c->close();
      }
      wg.done();
    });
  }
  std::string address() const { return l.address().to_string(); }
  void stop() {
    (void)l.close();
    wg.wait();
  }
};

std::string closed_port_address() {
  auto l = net::listen("127.0.0.1:0");
  std::string a = l->address().to_string();
  (void)l->close();
  return a;
}

TEST_P(ProxyTest, NoBackendIs503WithAnExplanation) {
  run([] {
    Lb lb;
    Reply r = get(lb.server.address());
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("no healthy backend"), std::string::npos);
    lb.server.stop();
  });
}

TEST_P(ProxyTest, RoundRobinAndForwardingFields) {
  run([] {
    std::atomic<int> hits[2] = {0, 0};
    std::string seen;
    auto make = [&](int i) {
      return [&, i](http::Request& req, http::ResponseWriter& w) {
        hits[i].fetch_add(1);
        if (i == 0) {
          seen.clear();
          for (const http::Header& h : req.headers()) {
            seen += std::string(h.name) + ": " + std::string(h.value) + "\n";
          }
        }
        (void)w.reply(200, std::string(req.target()) + " from " + std::to_string(i));
      };
    };
    TestServer b0(make(0)), b1(make(1));
    Lb lb;
    lb.add(b0.address());
    lb.add(b1.address());
    for (int i = 0; i < 20; ++i) {
      Reply r = get(lb.server.address());
      ASSERT_EQ(r.status, 200);
      EXPECT_EQ(r.body.substr(0, 9), "/path?q=1");
    }
    EXPECT_EQ(hits[0].load(), 10);
    EXPECT_EQ(hits[1].load(), 10);
    EXPECT_NE(seen.find("X-Forwarded-For: 127.0.0.1\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("Via: 1.1 spindle-lb\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("X-Forwarded-Proto: http\n"), std::string::npos) << seen;
    // Keep-alive upstream: 20 requests, one connection per backend.
    auto s0 = lb.upstream.pool(b0.address()).stats();
    EXPECT_EQ(s0.new_connections, 1u);
    EXPECT_EQ(s0.reuses, 9u);
    lb.server.stop();  // every handler has returned: both connections are back in their pools
    const http::PoolStats total = lb.upstream.stats();
    EXPECT_EQ(total.new_connections, 2u);
    EXPECT_EQ(total.reuses, 18u);
    EXPECT_EQ(total.idle, 2);
    EXPECT_EQ(total.in_use, 0);
    b0.stop();
    b1.stop();
  });
}

// Every answer is counted by method and status class, the backends' also per backend; the
// balancer's own answers (413, 503, 502) only in the total.
TEST_P(ProxyTest, CountsAnswersByMethodAndStatusClass) {
  run([] {
    TestServer ok([](http::Request& req, http::ResponseWriter& w) {
      const http::Method m = req.method();
      (void)w.reply(m == http::Method::kPost ? 201 : m == http::Method::kDelete ? 503 : 200, "x");
    });
    Lb lb({}, 0, 100ms, /*max_body=*/4);
    const BackendUrl u = *parse_backend_url("http://" + ok.address());
    lb.registry.add(u, "ok", 1, false, Clock::now());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(get(lb.server.address()).status, 200);
    EXPECT_EQ(get(lb.server.address(), http::Method::kHead).status, 200);
    EXPECT_EQ(get(lb.server.address(), http::Method::kPost, "data").status, 201);
    EXPECT_EQ(get(lb.server.address(), http::Method::kPost, "too large").status, 413);
    EXPECT_EQ(get(lb.server.address(), http::Method::kDelete).status, 503);
    EXPECT_EQ(get(lb.server.address(), http::Method::kPatch).status, 200);
    const std::shared_ptr<Backend> b = lb.registry.snapshot()->backends.at(0);
    ASSERT_EQ(lb.registry.remove(u.url), Registry::RemoveOutcome::kRemoved);
    EXPECT_EQ(get(lb.server.address()).status, 503);  // no backend
    lb.server.stop();                                 // every handler has returned and counted
    const ResponseCounts::Snapshot r = lb.proxy.responses();
    EXPECT_EQ(r[0], (StatusCounts::Snapshot{3, 0, 0, 1, 0}));  // GET
    EXPECT_EQ(r[1], (StatusCounts::Snapshot{1, 0, 0, 0, 0}));  // HEAD
    EXPECT_EQ(r[2], (StatusCounts::Snapshot{1, 0, 1, 0, 0}));  // POST
    EXPECT_EQ(r[3], (StatusCounts::Snapshot{0, 0, 0, 0, 0}));  // PUT
    EXPECT_EQ(r[4], (StatusCounts::Snapshot{0, 0, 0, 1, 0}));  // DELETE
    EXPECT_EQ(r[5], (StatusCounts::Snapshot{1, 0, 0, 0, 0}));  // OTHER: PATCH
    EXPECT_EQ(b->responses.snapshot(), (StatusCounts::Snapshot{6, 0, 0, 1, 0}));
    ok.stop();

    Lb refused;
    refused.add(closed_port_address());
    EXPECT_EQ(get(refused.server.address(), http::Method::kPut, "x").status, 502);
    refused.server.stop();
    EXPECT_EQ(refused.proxy.responses()[3], (StatusCounts::Snapshot{0, 0, 0, 1, 0}));
    EXPECT_EQ(refused.registry.snapshot()->backends.at(0)->responses.snapshot(),
              (StatusCounts::Snapshot{}));
  });
}

// A backend's response head followed by no body byte before it closes: nothing of it went out,
// so the client gets the balancer's 502, counted as the balancer's answer, not the backend's.
TEST_P(ProxyTest, AResponseTakenBackIsNotTheBackendsAnswer) {
  run([] {
    net::Listener l = std::move(*net::listen("127.0.0.1:0"));
    runtime::WaitGroup wg;
    wg.add(1);
    runtime::go([&] {
      auto c = l.accept();
      if (c) {
        read_request_head(*c);
        (void)c->write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        (void)c->close();
      }
      wg.done();
    });
    Lb lb;
    lb.add(l.address().to_string());
    EXPECT_EQ(get(lb.server.address()).status, 502);
    lb.server.stop();
    EXPECT_EQ(lb.proxy.responses()[0], (StatusCounts::Snapshot{0, 0, 0, 1, 0}));
    EXPECT_EQ(lb.registry.snapshot()->backends.at(0)->responses.snapshot(),
              (StatusCounts::Snapshot{}));
    EXPECT_EQ(lb.registry.snapshot()->backends.at(0)->requests.load(), 1u);
    (void)l.close();
    wg.wait();
  });
}

TEST_P(ProxyTest, StreamsALargeBodyBothWays) {
  run([] {
    TestServer echo([](http::Request& req, http::ResponseWriter& w) {
      for (;;) {
        auto piece = req.body().next();
        if (!piece || piece->empty()) break;
        if (!w.write(*piece)) return;
      }
    });
    Lb lb;
    lb.add(echo.address());
    std::string body(8 << 20, 'x');
    for (std::size_t i = 0; i < body.size(); i += 4096) body[i] = static_cast<char>('a' + i % 26);
    Reply r = get(lb.server.address(), http::Method::kPut, body);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body == body) << r.body.size();
    lb.server.stop();
    echo.stop();
  });
}

// The goroutine forwarding a request carries the label backend=NAME (and the goroutines it
// starts inherit it): CPU samples taken while the proxy streams a body say which backend.
TEST(ProxyLabels, ForwardingCarriesTheBackendLabel) {
  runtime::Runtime rt(runtime::Options{.procs = 2});
  rt.run([] {
    TestServer echo([](http::Request& req, http::ResponseWriter& w) {
      for (;;) {
        auto piece = req.body().next();
        if (!piece || piece->empty()) break;
        if (!w.write(*piece)) return;
      }
    });
    Lb lb;
    lb.add(echo.address());
    const std::string name = lb.registry.snapshot()->backends.at(0)->name;
    const std::string body(4 << 20, 'x');
    // A round is a few milliseconds of CPU; more rounds only for a starved machine.
    bool labelled = false;
    for (int round = 0; round < 100 && !labelled; ++round) {
      std::unique_ptr<runtime::CpuProfiler> prof = runtime::CpuProfiler::start(1000);
      ASSERT_NE(prof, nullptr);
      EXPECT_EQ(get(lb.server.address(), http::Method::kPut, body).status, 200);
      for (const runtime::CpuSample& s : prof->stop()) {
        labelled = labelled || s.labels.get("backend") == name;
      }
    }
    EXPECT_TRUE(labelled);
    lb.server.stop();
    echo.stop();
  });
}

// --max-body-size: a declared length over the limit is refused before anything goes upstream;
// a chunked body is cut off once it passes the limit. Neither counts against the backend.
TEST_P(ProxyTest, BodyOverTheLimitIs413) {
  run([] {
    std::atomic<int> hits{0};
    TestServer counter([&](http::Request& req, http::ResponseWriter& w) {
      hits.fetch_add(1);
      std::size_t n = 0;
      for (;;) {
        auto piece = req.body().next();
        if (!piece || piece->empty()) break;
        n += piece->size();
      }
      (void)w.reply(200, std::to_string(n));
    });
    Lb lb({}, 0, 100ms, /*max_body=*/1000);
    lb.add(counter.address());
    Reply ok = get(lb.server.address(), http::Method::kPost, std::string(1000, 'x'));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "1000");
    Reply big = get(lb.server.address(), http::Method::kPost, std::string(1001, 'x'));
    EXPECT_EQ(big.status, 413);
    EXPECT_NE(big.body.find("--max-body-size"), std::string::npos) << big.body;
    EXPECT_EQ(hits.load(), 1);  // never sent upstream

    http::Client c;
    http::ClientRequest req;
    req.method = http::Method::kPost;
    std::string chunked(5000, 'y');
    http::StringBody b(chunked);
    req.body = &b;  // no content_length: chunked
    auto r = c.send(lb.server.address(), req);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->status(), 413);
    EXPECT_EQ(lb.proxy.stats().too_large, 2u);
    for (const BackendStatus& s : lb.registry.status(Clock::now())) EXPECT_EQ(s.failures, 0u);
    lb.server.stop();
    counter.stop();
  });
}

// A client whose body breaks after the backend has started answering (an echo streams each
// piece back as it arrives): the body writer fails on the client's side and stops the
// exchange. That is the client's failure, never the backend's: malformed chunking, and a
// declared length the client does not send before closing.
TEST_P(ProxyTest, BrokenRequestBodyMidResponseIsTheClientsFailure) {
  run([] {
    TestServer echo([](http::Request& req, http::ResponseWriter& w) {
      if (!w.write_header(200)) return;
      for (;;) {
        auto piece = req.body().next();
        if (!piece || piece->empty()) return;
        if (!w.write(*piece) || !w.flush()) return;
      }
    });
    Lb lb({}, 0, 100ms, BodyOptions{.buffer = 0});  // bodies stream from their first byte
    lb.add(echo.address());
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "zz\r\n"},
        {"Content-Length: 100000\r\n\r\nhello", ""},
    };
    for (auto [head_and_start, rest] : cases) {
      for (int i = 0; i < 3; ++i) {
        net::Conn c = http::testing::dial(lb.server);
        ASSERT_TRUE(c.write("POST /echo HTTP/1.1\r\nHost: x\r\n").ok());
        ASSERT_TRUE(c.write(head_and_start).ok());
        // The echoed piece has come back: the response is streaming.
        std::string got = http::testing::read_until_count(c, "hello", 1);
        ASSERT_NE(got.find("hello"), std::string::npos) << got;
        if (!rest.empty()) {
          ASSERT_TRUE(c.write(rest).ok());
        }
        (void)c.close();
      }
    }
    auto deadline = Clock::now() + 5s;
    while (lb.proxy.stats().client_errors < 6 && Clock::now() < deadline) runtime::sleep_for(5ms);
    EXPECT_EQ(lb.proxy.stats().client_errors, 6u);
    EXPECT_EQ(lb.proxy.stats().aborted, 0u);
    for (const BackendStatus& s : lb.registry.status(Clock::now())) {
      EXPECT_EQ(s.failures, 0u) << s.url;
    }
    lb.server.stop();
    echo.stop();
  });
}

// The same before any byte of the response went out (the backend sent its head, which the
// proxy holds until the body's first bytes): answered as the client's failure (400), never
// a 502 charged to the backend.
TEST_P(ProxyTest, BrokenRequestBodyBeforeAnyResponseByteIsTheClientsFailure) {
  run([] {
    TestServer sink([](http::Request& req, http::ResponseWriter& w) {
      if (!w.write_header(200) || !w.flush()) return;  // the head goes out at once
      (void)req.body().discard(1 << 20);
    });
    Lb lb;
    lb.add(sink.address());
    net::Conn c = http::testing::dial(lb.server);
    ASSERT_TRUE(c.write("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n")
                    .ok());
    const Backend& b = *lb.registry.snapshot()->backends[0];
    auto deadline = Clock::now() + 5s;
    while (b.requests.load() == 0 && Clock::now() < deadline) runtime::sleep_for(1ms);
    ASSERT_EQ(b.requests.load(), 1u);  // the response head has arrived
    ASSERT_TRUE(c.write("zz\r\n").ok());
    std::string r = http::testing::read_all(c);
    EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
    EXPECT_EQ(b.failures.load(), 0u);
    EXPECT_EQ(lb.proxy.stats().client_errors, 1u);
    lb.server.stop();
    sink.stop();
  });
}

// A small body is read whole before an in-flight slot is taken: a client sending it slowly
// does not lock others out (a limit of one slot here), and nothing reaches the backend early.
TEST_P(ProxyTest, ASlowSmallBodyHoldsNoSlot) {
  run([] {
    std::atomic<int> hits{0};
    TestServer ok([&](http::Request& req, http::ResponseWriter& w) {
      hits.fetch_add(1);
      (void)req.body().discard(1 << 20);
      (void)w.reply(200, "ok");
    });
    Lb lb({}, /*limit=*/1, /*queue=*/20ms);
    lb.add(ok.address());
    net::Conn slow = http::testing::dial(lb.server);
    ASSERT_TRUE(slow.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc").ok());
    auto deadline = Clock::now() + 5s;
    while (lb.proxy.stats().requests == 0 && Clock::now() < deadline) runtime::sleep_for(1ms);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(get(lb.server.address()).status, 200);
    EXPECT_EQ(hits.load(), 3);
    ASSERT_TRUE(slow.write("defghij").ok());  // the rest: now it goes upstream
    std::string r = http::testing::read_until_count(slow, "ok", 1);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    EXPECT_EQ(hits.load(), 4);
    lb.server.stop();
    ok.stop();
  });
}

// A body that keeps trickling past the allowance (the timeout plus 1 s per min_rate bytes)
// is refused with 408, charged to the client; a buffered one never reached the backend.
TEST_P(ProxyTest, ABodySlowerThanItsAllowanceIs408) {
  run([] {
    std::atomic<int> hits{0};
    TestServer ok([&](http::Request& req, http::ResponseWriter& w) {
      hits.fetch_add(1);
      (void)req.body().discard(1 << 20);
      (void)w.reply(200, "ok");
    });
    Lb lb({}, 0, 100ms, BodyOptions{.timeout = 100ms, .min_rate = 0});
    lb.add(ok.address());
    net::Conn slow = http::testing::dial(lb.server);
    ASSERT_TRUE(slow.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n").ok());
    std::string answer;
    for (int i = 0; i < 200 && answer.empty(); ++i) {  // one byte every 20 ms
      if (!slow.write("x")) break;
      runtime::sleep_for(20ms);
      if (lb.proxy.stats().slow_bodies > 0) answer = http::testing::read_all(slow);
    }
    EXPECT_EQ(answer.rfind("HTTP/1.1 408 ", 0), 0u) << answer;
    EXPECT_NE(answer.find("--body-timeout"), std::string::npos) << answer;
    EXPECT_EQ(lb.proxy.stats().client_errors, 1u);
    EXPECT_EQ(hits.load(), 0);
    for (const BackendStatus& st : lb.registry.status(Clock::now())) EXPECT_EQ(st.failures, 0u);
    lb.server.stop();
    ok.stop();
  });
}

TEST_P(ProxyTest, ConnectRefusedFailsOverForAnyMethod) {
  run([] {
    TestServer ok([](http::Request&, http::ResponseWriter& w) { (void)w.reply(200, "ok"); });
    Lb lb;
    lb.add(closed_port_address());
    lb.add(ok.address());
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(get(lb.server.address(), http::Method::kPost, "data").status, 200);
      EXPECT_EQ(get(lb.server.address()).status, 200);
    }
    EXPECT_GE(lb.proxy.stats().failovers, 1u);
    lb.server.stop();
    ok.stop();
  });
}

TEST_P(ProxyTest, AllRefusedIs502) {
  run([] {
    Lb lb;
    lb.add(closed_port_address());
    Reply r = get(lb.server.address());
    EXPECT_EQ(r.status, 502);
    EXPECT_NE(r.body.find("failed"), std::string::npos) << r.body;
    lb.server.stop();
  });
}

TEST_P(ProxyTest, ResetBeforeResponseRetriesGetButNotPost) {
  run([] {
    {
      FlakyBackend b(1);
      Lb lb;
      lb.add(b.address());
      Reply r = get(lb.server.address());
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.body, "ok");
      EXPECT_EQ(b.conns.load(), 2);
      EXPECT_EQ(lb.proxy.stats().retries, 1u);
      lb.server.stop();
      b.stop();
    }
    {
      FlakyBackend b(1);
      Lb lb;
      lb.add(b.address());
      Reply r = get(lb.server.address(), http::Method::kPost, "x");
      EXPECT_EQ(r.status, 502);
      EXPECT_EQ(b.conns.load(), 1);
      lb.server.stop();
      b.stop();
    }
  });
}

TEST_P(ProxyTest, ResponseHeaderTimeoutIs504) {
  run([] {
    TestServer slow([](http::Request&, http::ResponseWriter& w) {
      runtime::sleep_for(300ms);
      (void)w.reply(200, "late");
    });
    http::ClientOptions o;
    o.response_header_timeout = 50ms;
    Lb lb(o);
    lb.add(slow.address());
    Reply r = get(lb.server.address());
    EXPECT_EQ(r.status, 504);
    EXPECT_EQ(lb.proxy.stats().gateway_timeout, 1u);
    lb.server.stop();
    slow.stop();
  });
}

// The response-header timeout runs from the end of the request: a backend that waits for the
// rest of a body the client streams slowly (longer than the timeout) is not timed out.
TEST_P(ProxyTest, ResponseHeaderTimeoutCountsFromTheEndOfAStreamedBody) {
  run([] {
    TestServer sink([](http::Request& req, http::ResponseWriter& w) {
      std::size_t n = 0;
      for (;;) {
        auto piece = req.body().next();
        if (!piece || piece->empty()) break;
        n += piece->size();
      }
      (void)w.reply(200, std::to_string(n));
    });
    http::ClientOptions o;
    o.response_header_timeout = 100ms;
    Lb lb(o, 0, 100ms, BodyOptions{.buffer = 0});
    lb.add(sink.address());
    net::Conn c = http::testing::dial(lb.server);
    ASSERT_TRUE(c.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 81920\r\n\r\n").ok());
    for (int i = 0; i < 8; ++i) {  // 8 x 10 KiB over ~400 ms, four times the timeout
      ASSERT_TRUE(c.write(std::string(10240, 'q')).ok());
      runtime::sleep_for(50ms);
    }
    std::string r = http::testing::read_until_count(c, "81920", 1);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 ", 0), 0u) << r;
    EXPECT_EQ(lb.proxy.stats().gateway_timeout, 0u);
    EXPECT_EQ(lb.registry.snapshot()->backends[0]->failures.load(), 0u);
    lb.server.stop();
    sink.stop();
  });
}

TEST_P(ProxyTest, OverloadIs503WithRetryAfter) {
  run([] {
    TestServer slow([](http::Request&, http::ResponseWriter& w) {
      runtime::sleep_for(200ms);
      (void)w.reply(200, "ok");
    });
    Lb lb({}, /*limit=*/1, /*queue=*/20ms);
    lb.add(slow.address());
    runtime::WaitGroup wg;
    Reply a, b;
    wg.add(2);
    runtime::go([&] {
      a = get(lb.server.address());
      wg.done();
    });
    runtime::go([&] {
      b = get(lb.server.address());
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(std::min(a.status, b.status), 200);
    Reply& refused = a.status == 503 ? a : b;
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.retry_after, "1");
    lb.server.stop();
    slow.stop();
  });
}

// Expect: 100-continue with a chunked body, and a backend that answers at once: the upstream
// body writer's first read of the client's body sends the 100 while the handler streams the
// backend's answer to the same client. Both wrote the client's socket at once and spindle-lb
// aborted ("two goroutines write on one socket"). The 100 goes out whole before the answer,
// or not at all; either way the body reaches the backend.
TEST_P(ProxyTest, ExpectContinueWithAStreamedBodyAndAnEarlyAnswer) {
  run([] {
    net::Listener backend = std::move(*net::listen("127.0.0.1:0"));
    std::atomic<int> bodies{0};
    runtime::WaitGroup accepting;
    accepting.add(1);
    runtime::go([&] {
      runtime::WaitGroup conns;
      for (;;) {
        auto c = backend.accept();
        if (!c) break;
        conns.add(1);
        runtime::go([&, c = std::move(*c)]() mutable {
          (void)c.set_deadline(Clock::now() + 10s);
          runtime::testing::spin_ns(runtime::testing::thread_rand() % 40'000);
          (void)c.write(
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
              "5\r\nearly\r\n");
          std::string got;
          char buf[4096];
          while (got.find("\r\n0\r\n\r\n") == std::string::npos) {
            auto n = c.read(buf);
            if (!n || *n == 0) break;
            got.append(buf, *n);
          }
          if (got.find("hello") != std::string::npos) bodies.fetch_add(1);
          (void)c.write("0\r\n\r\n");
          (void)c.close();
          conns.done();
        });
      }
      conns.wait();
      accepting.done();
    });
    Lb lb;
    lb.add(backend.address().to_string());
    net::Conn c = http::testing::dial(lb.server);
    constexpr int kRounds = 200;
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_TRUE(c.write("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n")
                      .ok());
      std::string got;
      char buf[4096];
      while (got.find("early\r\n") == std::string::npos) {
        auto n = c.read(buf);
        ASSERT_TRUE(n && *n > 0) << got;
        got.append(buf, *n);
      }
      const std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      const std::size_t answer_at = got.starts_with(kContinue) ? kContinue.size() : 0;
      ASSERT_EQ(got.find("HTTP/1.1 200 OK\r\n"), answer_at) << got;
      ASSERT_EQ(got.find("100 Continue", answer_at), std::string::npos) << got;
      ASSERT_TRUE(c.write("5\r\nhello\r\n0\r\n\r\n").ok());
      while (got.find("\r\n0\r\n\r\n", answer_at) == std::string::npos) {
        auto n = c.read(buf);
        ASSERT_TRUE(n && *n > 0) << got;
        got.append(buf, *n);
      }
    }
    EXPECT_EQ(bodies.load(), kRounds);
    EXPECT_EQ(lb.registry.snapshot()->backends[0]->failures.load(), 0u);
    (void)c.close();
    lb.server.stop();
    (void)backend.close();
    accepting.wait();
  });
}

TEST_P(ProxyTest, ClientDisconnectCancelsTheUpstreamRequest) {
  run([] {
    TestServer slow([](http::Request&, http::ResponseWriter& w) {
      runtime::sleep_for(300ms);
      (void)w.reply(200, "late");
    });
    Lb lb;
    lb.add(slow.address());
    {
      net::Conn c = http::testing::dial(lb.server);
      ASSERT_TRUE(c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
      runtime::sleep_for(50ms);
    }  // closed: the proxy cancels
    auto deadline = Clock::now() + 2s;
    while (lb.proxy.stats().canceled == 0 && Clock::now() < deadline) runtime::sleep_for(5ms);
    EXPECT_EQ(lb.proxy.stats().canceled, 1u);
    EXPECT_EQ(lb.registry.snapshot()->backends[0]->in_flight.load(), 0);
    lb.server.stop();
    slow.stop();
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, ProxyTest, ::testing::Values(1, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "P" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace spindle::lb
