// The /debug/pprof/ profile pages over HTTP: the CPU profile names the function burning CPU
// and carries goroutine labels and ids, one profile at a time (409), and the block and mutex
// pages in both forms.
#include "debug/pprof_pages.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "debug/debug_handler.h"
#include "debug/pprof_reader_for_test.h"
#include "http/test_server.h"
#include "runtime/channel.h"
#include "runtime/profile/frames.h"
#include "runtime/runtime.h"
#include "runtime/sync/mutex.h"
#include "runtime/time.h"

namespace spindle::debug::pprof_pages_test {

std::atomic<bool> g_stop{false};
std::atomic<uint64_t> g_sink{0};
runtime::Chan<int>* g_chan = nullptr;

// Outside any anonymous namespace, so their names are plain. keep_frame: a call in tail
// position would be a jump, and its caller would not be on the stack.
__attribute__((noinline)) uint64_t burn_for_pprof(uint64_t x) {
  for (int i = 0; i < 200'000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}
__attribute__((noinline)) void spin_for_pprof() {
  uint64_t x = 1;
  while (!g_stop.load(std::memory_order_relaxed)) {
    x = burn_for_pprof(x);
    runtime::yield();
  }
  g_sink += x;
}
__attribute__((noinline)) void wait_for_pprof() {
  (void)g_chan->recv();
  runtime::keep_frame();
}

namespace {

using http::testing::TestServer;
using namespace std::chrono_literals;

// The response's status line and body.
std::pair<std::string, std::string> get(const TestServer& s, std::string_view target) {
  net::Conn c = http::testing::dial(s);
  const std::string req =
      "GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  EXPECT_TRUE(c.write(req).ok());
  const std::string all = http::testing::read_all(c);
  const size_t head_end = all.find("\r\n\r\n");
  if (head_end == std::string::npos) return {all, ""};
  return {all.substr(0, all.find("\r\n")), all.substr(head_end + 4)};
}

bool contains(const std::vector<std::string>& stack, std::string_view fn) {
  for (const std::string& f : stack) {
    if (f.find(fn) != std::string::npos) return true;
  }
  return false;
}

TEST(PprofPages, CpuProfileNamesTheHotFunctionWithLabelsAndGoroutine) {
  runtime::Runtime rt(runtime::Options{.procs = 2});
  rt.run([] {
    DebugHandler debug({.program = "t", .metrics = {}, .not_ready = {}});
    TestServer s([&](http::Request& r, http::ResponseWriter& w) { debug(r, w); });

    // One profile at a time.
    {
      std::unique_ptr<runtime::CpuProfiler> other = runtime::CpuProfiler::start();
      ASSERT_NE(other, nullptr);
      auto [status, body] = get(s, "/debug/pprof/profile?seconds=1");
      EXPECT_TRUE(status.starts_with("HTTP/1.1 409 ")) << status;
      EXPECT_EQ(body, "Could not enable CPU profiling: a CPU profile is already in progress\n");
    }

    g_stop = false;
    runtime::WaitGroup wg;
    wg.add(1);
    std::atomic<uint64_t> id{0};
    runtime::go([&] {
      runtime::with_labels(runtime::LabelSet{{"worker", "a"}}, [&] {
        id = runtime::goroutine_id();
        spin_for_pprof();
      });
      wg.done();
    });
    // A second of CPU at 100 Hz holds ~100 samples; more rounds only for a starved machine.
    bool found = false;
    for (int round = 0; round < 10 && !found; ++round) {
      auto [status, body] = get(s, "/debug/pprof/profile?seconds=1");
      ASSERT_EQ(status, "HTTP/1.1 200 OK");
      const testing::DecodedProfile p = testing::decode_profile(gzip_decompress(body));
      ASSERT_EQ(p.sample_types.size(), 2u);
      EXPECT_EQ(p.sample_types[1], std::make_pair(std::string("cpu"), std::string("nanoseconds")));
      EXPECT_EQ(p.period, 10'000'000);
      EXPECT_GE(p.duration_nanos, 1'000'000'000);
      for (const testing::DecodedSample& smp : p.samples) {
        const std::vector<std::string> stack = p.stack(smp);
        // burn_for_pprof is a leaf: g++ builds it without a frame, so its caller may be missing.
        if (!contains(stack, "pprof_pages_test::burn_for_pprof")) continue;
        ASSERT_EQ(smp.labels.size(), 2u);
        EXPECT_EQ(smp.labels[0].key, "worker");
        EXPECT_EQ(smp.labels[0].str, "a");
        EXPECT_EQ(smp.labels[1].key, "goroutine");
        EXPECT_EQ(smp.labels[1].num, static_cast<int64_t>(id.load()));
        EXPECT_EQ(smp.values[1], smp.values[0] * 10'000'000);
        found = true;
      }
    }
    EXPECT_TRUE(found);
    g_stop = true;
    wg.wait();
    s.stop();
  });
}

TEST(PprofPages, BlockAndMutexProfilesInBothForms) {
  runtime::Runtime rt(runtime::Options{.procs = 2});
  rt.run([] {
    DebugHandler debug({.program = "t", .metrics = {}, .not_ready = {}});
    TestServer s([&](http::Request& r, http::ResponseWriter& w) { debug(r, w); });
    runtime::set_block_profile_rate(1);
    runtime::set_mutex_profile_fraction(1);
    runtime::Chan<int> c = runtime::make_chan<int>();
    g_chan = &c;
    runtime::WaitGroup wg;
    wg.add(1);
    runtime::go([&] {
      wait_for_pprof();
      wg.done();
    });
    runtime::sleep_for(5ms);
    c.send(1);
    wg.wait();
    runtime::set_block_profile_rate(0);

    auto [status, text] = get(s, "/debug/pprof/block?debug=1");
    EXPECT_EQ(status, "HTTP/1.1 200 OK");
    EXPECT_TRUE(text.starts_with("--- contention:\ncycles/second=1000000000\n")) << text;
    EXPECT_NE(text.find("\tspindle::debug::pprof_pages_test::wait_for_pprof+0x"), std::string::npos)
        << text;
    EXPECT_NE(text.find("pprof_pages_test.cc:"), std::string::npos) << text;

    auto [status2, body] = get(s, "/debug/pprof/block");
    EXPECT_EQ(status2, "HTTP/1.1 200 OK");
    const testing::DecodedProfile p = testing::decode_profile(gzip_decompress(body));
    ASSERT_EQ(p.sample_types.size(), 2u);
    EXPECT_EQ(p.sample_types[0], std::make_pair(std::string("contentions"), std::string("count")));
    EXPECT_EQ(p.sample_types[1], std::make_pair(std::string("delay"), std::string("nanoseconds")));
    bool found = false;
    for (const testing::DecodedSample& smp : p.samples) {
      if (!contains(p.stack(smp), "pprof_pages_test::wait_for_pprof")) continue;
      found = true;
      EXPECT_GE(smp.values[0], 1);
      EXPECT_GT(smp.values[1], 0);
    }
    EXPECT_TRUE(found);

    auto [status3, mutex_text] = get(s, "/debug/pprof/mutex?debug=1");
    EXPECT_EQ(status3, "HTTP/1.1 200 OK");
    EXPECT_TRUE(mutex_text.starts_with("--- mutex:\ncycles/second=1000000000\nsampling period=1\n"))
        << mutex_text;
    auto [status4, mutex_body] = get(s, "/debug/pprof/mutex");
    EXPECT_EQ(status4, "HTTP/1.1 200 OK");
    EXPECT_EQ(testing::decode_profile(gzip_decompress(mutex_body)).sample_types.size(), 2u);
    runtime::set_mutex_profile_fraction(0);
    s.stop();
  });
}

TEST(PprofPages, SymbolPageNamesAddressesForPprof) {
  runtime::Runtime rt(runtime::Options{.procs = 1});
  rt.run([] {
    DebugHandler debug({.program = "t", .metrics = {}, .not_ready = {}});
    TestServer s([&](http::Request& r, http::ResponseWriter& w) { debug(r, w); });
    EXPECT_EQ(get(s, "/debug/pprof/symbol").second, "num_symbols: 1\n");
    char addr[32];
    std::snprintf(addr, sizeof addr, "%#" PRIxPTR,
                  reinterpret_cast<uintptr_t>(&wait_for_pprof) + 4);
    const std::string body = std::string(addr) + "+0x0+junk";
    net::Conn c = http::testing::dial(s);
    EXPECT_TRUE(c.write("POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body)
                    .ok());
    const std::string all = http::testing::read_all(c);
    EXPECT_TRUE(all.starts_with("HTTP/1.1 200 OK\r\n")) << all;
    EXPECT_TRUE(all.ends_with("\r\n\r\nnum_symbols: 1\n" + std::string(addr) +
                              " spindle::debug::pprof_pages_test::wait_for_pprof\n"))
        << all;
    net::Conn put = http::testing::dial(s);
    EXPECT_TRUE(put.write("PUT /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n")
                    .ok());
    EXPECT_TRUE(http::testing::read_all(put).starts_with("HTTP/1.1 405 "));
    s.stop();
  });
}

}  // namespace
}  // namespace spindle::debug::pprof_pages_test
