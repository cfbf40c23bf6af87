// "100 Continue" against the response: a handler that reads the request body on a goroutine
// of its own (as the proxy's upstream body writer does) while it answers. The body's first
// read sends the 100; it used to be written by that goroutine with no regard for the handler
// writing its response on the same socket at the same time (the socket's check "two
// goroutines write on one socket" aborted the process, or the bytes interleaved). The 100
// must go out whole before the final response, or not at all once the response has begun
// (RFC 9110 §10.1.1).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "http/server.h"
#include "http/test_server.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/testing.h"

namespace spindle::http {
namespace {

using runtime::testing::spin_ns;
using runtime::testing::thread_rand;
using testing::dial;
using testing::TestServer;

class ContinueStressTest : public runtime::testing::RuntimeTest {};

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Reads from c, appending to out, until out holds `marker` after `from`.
bool read_until(net::Conn& c, std::string& out, std::string_view marker, std::size_t from = 0) {
  char buf[4096];
  while (out.find(marker, from) == std::string::npos) {
    auto n = c.read(buf);
    if (!n || *n == 0) return false;
    out.append(buf, *n);
  }
  return true;
}

TEST_P(ContinueStressTest, ContinueFromABodyReaderNeverRacesTheAnswer) {
  run([] {
    TestServer s([](Request& req, ResponseWriter& w) {
      runtime::WaitGroup reader;
      reader.add(1);
      std::string body;
      runtime::go([&] {
        for (;;) {
          auto piece = req.body().next();
          if (!piece || piece->empty()) break;
          body += *piece;
        }
        reader.done();
      });
      spin_ns(thread_rand() % 40'000);  // lines the answer up with the reader's first read
      (void)w.write_header(200);
      (void)w.write("answer");
      (void)w.flush();
      reader.wait();
      EXPECT_EQ(body, "hello");
    });
    net::Conn c = dial(s);
    int continued = 0;
    constexpr int kRounds = 300;
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_TRUE(c.write("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                          "Content-Length: 5\r\n\r\n")
                      .ok());
      std::string got;
      ASSERT_TRUE(read_until(c, got, "answer\r\n")) << got;
      // Optionally the 100, whole and first; then the answer, and no 100 after it.
      const std::size_t answer_at = got.starts_with(kContinue) ? kContinue.size() : 0;
      continued += answer_at != 0;
      ASSERT_EQ(got.find("HTTP/1.1 200 OK\r\n"), answer_at) << got;
      ASSERT_EQ(got.find("100 Continue", answer_at), std::string::npos) << got;
      ASSERT_TRUE(c.write("hello").ok());
      ASSERT_TRUE(read_until(c, got, "0\r\n\r\n", answer_at)) << got;
    }
    std::printf("%d of %d answers came after a 100 Continue\n", continued, kRounds);
    (void)c.close();
    s.stop();
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, ContinueStressTest, ::testing::Values(2, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "P" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace spindle::http
