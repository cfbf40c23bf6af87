// Helpers shared by the HTTP server and client tests: a Server on a loopback port run by a
// goroutine, and a raw client that writes bytes and reads what comes back.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "http/server.h"
#include "net/conn.h"
#include "net/listener.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"

namespace spindle::http::testing {

using namespace std::chrono_literals;

// A Server listening on 127.0.0.1:0, serving from a goroutine; stop() shuts it down.
struct TestServer {
  net::Result<net::Listener> l = net::listen("127.0.0.1:0");
  Server server;
  runtime::WaitGroup wg;

  explicit TestServer(Handler h, ServerOptions o = {}) : server(std::move(h), std::move(o)) {
    EXPECT_TRUE(l.ok());
    wg.add(1);
    runtime::go([this] {
      auto r = server.serve(*l);
      EXPECT_TRUE(r.ok()) << r.error().message();
      wg.done();
    });
  }
  std::string address() const { return l->address().to_string(); }
  void stop(base::Duration grace = net::kNoTimeout) {
    server.shutdown(grace);
    wg.wait();
  }
};

inline net::Conn dial(const TestServer& s) {
  auto c = net::dial(s.l->address(), 5s);
  EXPECT_TRUE(c.ok());
  (void)c->set_deadline(base::Clock::now() + 10s);  // a hung test fails, it does not hang
  return std::move(*c);
}

// Reads until end of stream (or error); everything read.
inline std::string read_all(net::Conn& c) {
  std::string out;
  char buf[16384];
  for (;;) {
    auto n = c.read(buf);
    if (!n || *n == 0) return out;
    out.append(buf, *n);
  }
}

// Reads until `out` holds `count` occurrences of `marker`.
inline std::string read_until_count(net::Conn& c, std::string_view marker, int count) {
  std::string out;
  char buf[16384];
  auto occurrences = [&] {
    int k = 0;
    for (std::size_t p = out.find(marker); p != std::string::npos; p = out.find(marker, p + 1)) ++k;
    return k;
  };
  while (occurrences() < count) {
    auto n = c.read(buf);
    if (!n || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

}  // namespace spindle::http::testing
