#include "debug/debug_handler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "debug/pprof_profile.h"
#include "debug/pprof_reader_for_test.h"
#include "http/test_server.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "runtime/traceback.h"

namespace spindle::debug {
namespace {

using http::testing::TestServer;

std::string get(const TestServer& s, std::string_view method, std::string_view target) {
  net::Conn c = http::testing::dial(s);
  const std::string req = std::string(method) + " " + std::string(target) +
                          " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  EXPECT_TRUE(c.write(req).ok());
  return http::testing::read_all(c);
}

TEST(DebugHandler, HealthReadinessMetricsAndIndex) {
  runtime::Runtime rt(runtime::Options{.procs = 2});
  std::atomic<bool> draining{false};
  rt.run([&] {
    DebugHandler debug(
        {.program = "spindle-test",
         .metrics =
             [](MetricsText& m) { m.counter("spindle_test_things_total", "Things done.", 42); },
         .not_ready = [&] { return draining ? "draining" : ""; }});
    TestServer s([&](http::Request& r, http::ResponseWriter& w) { debug(r, w); });

    EXPECT_TRUE(get(s, "GET", "/healthz").starts_with("HTTP/1.1 200 OK\r\n"));
    std::string ready = get(s, "GET", "/ready");
    EXPECT_TRUE(ready.starts_with("HTTP/1.1 200 OK\r\n")) << ready;
    draining = true;
    ready = get(s, "GET", "/ready");
    EXPECT_TRUE(ready.starts_with("HTTP/1.1 503 ")) << ready;
    EXPECT_TRUE(ready.ends_with("not ready: draining\n")) << ready;

    const std::string metrics = get(s, "GET", "/metrics?x=1");
    EXPECT_TRUE(metrics.starts_with("HTTP/1.1 200 OK\r\n")) << metrics;
    EXPECT_NE(metrics.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    for (const char* want :
         {"# TYPE spindle_runtime_goroutines gauge\nspindle_runtime_goroutines ",
          "# TYPE spindle_runtime_threads gauge\n", "# TYPE process_cpu_seconds_total counter\n",
          "\nprocess_open_fds ", "\nprocess_resident_memory_bytes ",
          "\nspindle_test_things_total 42\n"}) {
      EXPECT_NE(metrics.find(want), std::string::npos) << want;
    }

    const std::string index = get(s, "GET", "/debug/pprof/");
    EXPECT_TRUE(index.starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_NE(index.find("spindle-test debug listener"), std::string::npos);
    EXPECT_NE(index.find("Not served yet:"), std::string::npos);
    EXPECT_NE(index.find("\n/debug/pprof/goroutine "), std::string::npos) << index;
    EXPECT_NE(index.find("\n/debug/pprof/goroutine?debug=1 "), std::string::npos) << index;
    EXPECT_NE(index.find("\n/debug/pprof/goroutine?debug=2 "), std::string::npos) << index;

    const std::string head = get(s, "HEAD", "/healthz");
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;  // no body
    EXPECT_TRUE(get(s, "POST", "/metrics").starts_with("HTTP/1.1 405 "));
    EXPECT_TRUE(get(s, "GET", "/nothing").starts_with("HTTP/1.1 404 "));
    s.stop();
  });
}

// The blank-line separated block of an answer's body that contains `what`, or "".
std::string block_with(const std::string& answer, std::string_view what) {
  const std::string text = answer.substr(answer.find("\r\n\r\n") + 4);
  const size_t at = text.find(what);
  if (at == std::string::npos) return "";
  const size_t begin = text.rfind("\n\n", at);
  const size_t end = text.find("\n\n", at);
  const size_t from = begin == std::string::npos ? 0 : begin + 2;
  return text.substr(from, end == std::string::npos ? std::string::npos : end + 1 - from);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t from = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', from)) {
    out.push_back(text.substr(from, nl - from));
    from = nl + 1;
  }
  if (from < text.size()) out.push_back(text.substr(from));
  return out;
}

// Parks on ch until it is closed; its own frame in every build.
[[gnu::noinline]] void parked_in_debug_test(runtime::Chan<int> ch) {
  while (ch.recv()) {
  }
  asm volatile("" ::: "memory");
}

TEST(DebugHandler, GoroutineDumpsInGoLayouts) {
  runtime::Runtime rt(runtime::Options{.procs = 2});
  rt.run([&] {
    DebugHandler debug({.program = "p", .metrics = {}, .not_ready = {}});
    TestServer s([&](http::Request& r, http::ResponseWriter& w) { debug(r, w); });
    runtime::Chan<int> ch = runtime::make_chan<int>();
    runtime::Chan<int> ended = runtime::make_chan<int>(3);
    for (int i = 0; i < 3; ++i) {
      runtime::go([ch, ended]() mutable { parked_in_debug_test(ch), (void)ended.send(1); });
    }
    for (;;) {  // until all three have parked
      int parked = 0;
      for (const runtime::GoroutineRecord& g : runtime::goroutine_snapshot()) {
        parked += g.state == "chan receive" && !g.stack.empty();
      }
      if (parked == 3) break;
      runtime::yield();
    }

    // Checked line by line: std::regex recurses per character, and under TSan at -O0 overflows a
    // goroutine's stack even on one goroutine's lines.
    const std::string all = get(s, "GET", "/debug/pprof/goroutine?debug=2");
    EXPECT_TRUE(all.starts_with("HTTP/1.1 200 OK\r\n")) << all;
    const std::vector<std::string> block = lines(block_with(all, "parked_in_debug_test"));
    ASSERT_GE(block.size(), 5u) << all;
    EXPECT_TRUE(block[0].starts_with("goroutine ") && block[0].ends_with(" [chan receive]:"))
        << all;
    // The call into the runtime first, then its caller, each with its file:line.
    EXPECT_TRUE(block[1].starts_with("spindle::runtime::") && block[1].ends_with("(...)")) << all;
    EXPECT_TRUE(block[2].starts_with("\t") && block[2].find(':') != std::string::npos) << all;
    size_t fn = 0;
    while (fn < block.size() &&
           block[fn] != "spindle::debug::(anonymous namespace)::parked_in_debug_test(...)") {
      ++fn;
    }
    ASSERT_LT(fn + 1, block.size()) << all;
    EXPECT_TRUE(block[fn + 1].starts_with("\t") &&
                block[fn + 1].find("src/debug/debug_handler_test.cc:") != std::string::npos &&
                block[fn + 1].find(" +0x") != std::string::npos)
        << all;
    EXPECT_TRUE(std::any_of(block.begin(), block.end(), [](const std::string& l) {
      return l.starts_with("created by spindle::debug::");
    })) << all;

    const std::string grouped = get(s, "GET", "/debug/pprof/goroutine?debug=1");
    EXPECT_TRUE(grouped.starts_with("HTTP/1.1 200 OK\r\n")) << grouped;
    EXPECT_NE(grouped.find("\r\n\r\ngoroutine profile: total "), std::string::npos) << grouped;
    const std::vector<std::string> group = lines(block_with(grouped, "parked_in_debug_test"));
    ASSERT_GE(group.size(), 2u) << grouped;
    // (The first group also holds the "goroutine profile: total N" line above it.)
    EXPECT_TRUE(std::any_of(group.begin(), group.end(), [](const std::string& l) {
      return l.starts_with("3 @ 0x");
    })) << grouped;
    EXPECT_TRUE(std::any_of(group.begin(), group.end(), [](const std::string& l) {
      return l.starts_with("#\t0x") &&
             l.find("\tspindle::debug::(anonymous namespace)::parked_in_debug_test+0x") !=
                 std::string::npos &&
             l.find("src/debug/debug_handler_test.cc:") != std::string::npos;
    })) << grouped;

    // Without debug (or debug=0): the goroutine profile as gzipped profile.proto, the three
    // parked goroutines one sample of value 3.
    for (const char* target : {"/debug/pprof/goroutine", "/debug/pprof/goroutine?debug=0"}) {
      const std::string answer = get(s, "GET", target);
      ASSERT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
      EXPECT_NE(answer.find("Content-Type: application/octet-stream\r\n"), std::string::npos);
      EXPECT_NE(answer.find("filename=\"goroutine\""), std::string::npos);
      const size_t body = answer.find("\r\n\r\n");
      ASSERT_NE(body, std::string::npos);
      const testing::DecodedProfile p =
          testing::decode_profile(gzip_decompress(answer.substr(body + 4)));
      ASSERT_EQ(p.sample_types.size(), 1u);
      EXPECT_EQ(p.sample_types[0], std::make_pair(std::string("goroutine"), std::string("count")));
      EXPECT_EQ(p.period, 1);
      int64_t total = 0, parked = -1;
      for (const testing::DecodedSample& sample : p.samples) {
        ASSERT_EQ(sample.values.size(), 1u);
        total += sample.values[0];
        for (uint64_t location : sample.locations) {  // inlined frames too
          for (uint64_t fn : p.locations.at(location).functions) {
            if (p.function_names.at(fn).find("parked_in_debug_test") != std::string::npos) {
              parked = sample.values[0];
            }
          }
        }
      }
      EXPECT_EQ(parked, 3) << target;
      EXPECT_GE(total, 5) << target;  // also this goroutine and the server's
    }
    ch.close();
    // Until they have ended: goroutines still queued when run() returns never run, and what
    // they hold is never freed.
    for (int i = 0; i < 3; ++i) (void)ended.recv();
    s.stop();
  });
}

TEST(DebugHandler, ServeLeavesOtherPathsToTheProgram) {
  runtime::Runtime rt(runtime::Options{.procs = 1});
  rt.run([&] {
    DebugHandler debug({.program = "p", .metrics = {}, .not_ready = {}});
    TestServer s([&](http::Request& r, http::ResponseWriter& w) {
      if (!debug.serve(r, w)) (void)w.reply(200, "mine\n");
    });
    EXPECT_TRUE(get(s, "GET", "/other").ends_with("\r\n\r\nmine\n"));
    EXPECT_TRUE(get(s, "GET", "/healthz").ends_with("\r\n\r\nok\n"));
    s.stop();
  });
}

}  // namespace
}  // namespace spindle::debug
