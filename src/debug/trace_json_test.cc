#include "debug/trace_json.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "debug/debug_handler.h"
#include "http/test_server.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"

namespace spindle::debug {
namespace {

using nlohmann::json;

json parse(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << text.substr(0, 2000);
  return j;
}

// Events of the trace with phase `ph` (and name `name`, if given), in timestamp order.
std::vector<json> events(const json& trace, const std::string& ph, const std::string& name = "") {
  std::vector<json> out;
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] == ph && (name.empty() || e["name"] == name)) out.push_back(e);
  }
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a.value("ts", 0.0) < b.value("ts", 0.0);
  });
  return out;
}

bool inside(const json& slice, double ts) {
  const double start = slice["ts"].get<double>();
  return ts >= start && ts <= start + slice["dur"].get<double>();
}

// Slices on one timeline must nest (viewers drop or misdraw ones that overlap partly), and on
// a P's timeline (pid 0) not even that: a P runs one goroutine at a time. Times are compared
// in integer nanoseconds, as Perfetto reads them.
void expect_nested(const json& trace) {
  std::map<std::pair<int, int>, std::vector<std::pair<int64_t, int64_t>>> by_track;
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] != "X") continue;
    const auto ns = [](double us) { return static_cast<int64_t>(us * 1000 + 0.5); };
    const int64_t start = ns(e["ts"].get<double>());
    by_track[{e["pid"].get<int>(), e["tid"].get<int>()}].push_back(
        {start, start + ns(e["dur"].get<double>())});
  }
  for (auto& [track, slices] : by_track) {
    std::sort(slices.begin(), slices.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    });
    std::vector<int64_t> open;  // ends of the enclosing slices
    for (const auto& [start, end] : slices) {
      while (!open.empty() && open.back() <= start) open.pop_back();
      if (!open.empty()) {
        EXPECT_LE(end, open.back()) << "slices overlap on pid " << track.first << " tid "
                                    << track.second << " at " << start;
        EXPECT_NE(track.first, 0) << "two goroutines at once on P" << track.second << " at "
                                  << start;
      }
      open.push_back(end);
    }
  }
}

bool parked_on_chan(const json& slice) {
  return slice["args"]["end"] == "park: chan receive" || slice["args"]["end"] == "park: chan send";
}

// Two goroutines on one P: A sends to B three times over an unbuffered channel and B answers
// over another. Each of B's slices but the last must end parked on a channel, each followed by
// an unpark of B inside a slice of A and a flow arrow from that unpark to B's next slice on
// P0; and the same the other way round.
TEST(ExecutionTrace, PingPongParksUnparksAndRunsWithFlows) {
  runtime::Runtime rt(runtime::Options{.procs = 1});
  std::string text;
  uint64_t a = 0;
  uint64_t b = 0;
  uint64_t main_id = 0;
  rt.run([&] {
    main_id = runtime::goroutine_id();
    auto session = runtime::trace::Session::start();
    ASSERT_NE(session, nullptr);
    auto ping = runtime::make_chan<int>(0);
    auto pong = runtime::make_chan<int>(0);
    runtime::WaitGroup wg;
    wg.add(2);
    runtime::go([&, ping, pong]() mutable {
      b = runtime::goroutine_id();
      while (auto v = ping.recv()) pong.send(*v);
      wg.done();
    });
    runtime::go([&, ping, pong]() mutable {
      a = runtime::goroutine_id();
      for (int i = 0; i < 3; ++i) {
        ping.send(i);
        (void)pong.recv();
      }
      ping.close();
      wg.done();
    });
    wg.wait();
    text = chrome_trace_json(session->stop());
  });
  const json trace = parse(text);
  ASSERT_TRUE(trace.contains("traceEvents"));
  EXPECT_EQ(trace["otherData"]["dropped_events"], 0);
  expect_nested(trace);
  const std::string ga = "G" + std::to_string(a);
  const std::string gb = "G" + std::to_string(b);

  std::vector<json> b_on_p;  // B's slices on P0
  for (const json& s : events(trace, "X", gb)) {
    if (s["pid"] == 0) b_on_p.push_back(s);
  }
  std::vector<json> a_on_m;  // A's slices on its M
  for (const json& s : events(trace, "X", ga)) {
    if (s["pid"] == 1) a_on_m.push_back(s);
  }
  // B runs, parks on a channel, is woken by A: at least once per round.
  ASSERT_GE(b_on_p.size(), 4u) << text;
  for (size_t i = 0; i + 1 < b_on_p.size(); ++i) {
    EXPECT_EQ(b_on_p[i]["tid"], 0);
    EXPECT_TRUE(parked_on_chan(b_on_p[i])) << b_on_p[i];
  }
  EXPECT_EQ(b_on_p.back()["args"]["end"], "exit");

  // Every unpark of B is by A, inside one of A's slices, and starts a flow that ends at the
  // start of B's next slice.
  std::map<uint64_t, json> starts;  // flow id -> "s"
  for (const json& s : events(trace, "s", "unpark")) starts[s["id"].get<uint64_t>()] = s;
  int unparks_of_b = 0;
  for (const json& u : events(trace, "i", "unpark " + gb)) {
    ++unparks_of_b;
    EXPECT_EQ(u["args"]["by"], a);
    const double ts = u["ts"].get<double>();
    bool in_a = false;
    for (const json& s : a_on_m) in_a = in_a || (s["tid"] == u["tid"] && inside(s, ts));
    EXPECT_TRUE(in_a) << u;
  }
  EXPECT_EQ(unparks_of_b, static_cast<int>(b_on_p.size()) - 1);
  int flows_into_b = 0;
  for (const json& f : events(trace, "f", "unpark")) {
    const uint64_t id = f["id"].get<uint64_t>();
    ASSERT_EQ(starts.count(id), 1u) << "an arrow ends without a start: " << f;
    EXPECT_LE(starts[id]["ts"].get<double>(), f["ts"].get<double>());
    for (size_t i = 1; i < b_on_p.size(); ++i) {
      if (f["pid"] == 0 && inside(b_on_p[i], f["ts"].get<double>())) ++flows_into_b;
    }
  }
  EXPECT_EQ(flows_into_b, static_cast<int>(b_on_p.size()) - 1);
  // A parks on a channel at least once per round and is unparked by B each time.
  int a_parks = 0;
  for (const json& s : events(trace, "X", ga)) a_parks += s["pid"] == 0 && parked_on_chan(s);
  EXPECT_GE(a_parks, 3);
  EXPECT_EQ(events(trace, "i", "unpark " + ga).size(), static_cast<size_t>(a_parks));
  // The main goroutine was running when the trace started: its slice starts with the trace
  // and encloses the creates.
  EXPECT_EQ(events(trace, "i", "create " + ga).size(), 1u);
  EXPECT_EQ(events(trace, "X", "G" + std::to_string(main_id)).at(0)["ts"], 0.0);
  EXPECT_EQ(events(trace, "s", "create").size(), 2u);
  EXPECT_EQ(events(trace, "f", "create").size(), 2u);
}

runtime::trace::Event event(int64_t ts, runtime::trace::EventType type, uint64_t g, int tid, int p,
                            uint64_t arg = 0, uint8_t detail = 0) {
  return {ts, g, arg, static_cast<int16_t>(tid), static_cast<int16_t>(p), type, detail};
}

// Goroutine 1 was running on M0 when the trace started and shows up only later, with the P
// its M last held (sysmon had meanwhile given that P to M1, which ran goroutine 5 on it). Its
// slice starts with the trace on M0, but not on P0, which was busy with goroutine 5.
TEST(ExecutionTrace, RunningAtTheStartDoesNotClaimABusyP) {
  using runtime::trace::EventType;
  runtime::trace::Trace t;
  t.start_ns = 1'000;
  t.end_ns = 100'000;
  t.procs = 1;
  t.events = {
      event(10'000, EventType::kGoStart, 5, 1, 0),
      event(20'000, EventType::kGoStop, 5, 1, 0, 0, 1),
      event(30'000, EventType::kGoCreate, 7, 0, 0, 1),
      event(40'000, EventType::kGoStop, 1, 0, 0, 0, 2),
  };
  const json trace = parse(chrome_trace_json(t));
  expect_nested(trace);
  const std::vector<json> g1 = events(trace, "X", "G1");
  ASSERT_EQ(g1.size(), 1u) << trace.dump();
  EXPECT_EQ(g1[0]["pid"], 1);
  EXPECT_EQ(g1[0]["ts"], 0.0);
  EXPECT_EQ(g1[0]["dur"], 39.0);
  EXPECT_EQ(g1[0]["args"]["end"], "yield");
  EXPECT_EQ(events(trace, "i", "create G7").size(), 1u);
}

// Four goroutines that each wait (up to a second) until all four run at once, in a trace of
// their own: every P's timeline gets a slice. A P may also go unused when sysmon hands a long
// runner's P to the last of them (a slow machine, TSan), so up to 10 traces are taken until one
// shows every P.
std::string four_at_once(int procs) {
  std::string text;
  runtime::Runtime rt(runtime::Options{.procs = procs});
  rt.run([&] {
    auto session = runtime::trace::Session::start();
    ASSERT_NE(session, nullptr);
    std::atomic<int> started{0};
    runtime::WaitGroup wg;
    wg.add(procs);
    for (int i = 0; i < procs; ++i) {
      runtime::go([&] {
        started.fetch_add(1);
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (started.load() < procs && std::chrono::steady_clock::now() < give_up) {
        }
        wg.done();
      });
    }
    wg.wait();
    text = chrome_trace_json(session->stop());
  });
  return text;
}

TEST(ExecutionTrace, EveryPHasEvents) {
  constexpr int kProcs = 4;
  std::set<int> ps_with_slices;
  json trace;
  for (int attempt = 0; attempt < 10 && ps_with_slices.size() < kProcs; ++attempt) {
    trace = parse(four_at_once(kProcs));
    expect_nested(trace);
    ps_with_slices.clear();
    for (const json& s : events(trace, "X")) {
      if (s["pid"] == 0) ps_with_slices.insert(s["tid"].get<int>());
    }
  }
  EXPECT_EQ(ps_with_slices.size(), static_cast<size_t>(kProcs));
  EXPECT_EQ(trace["otherData"]["procs"], kProcs);
  for (int p = 0; p < kProcs; ++p) {
    bool named = false;
    for (const json& m : events(trace, "M", "thread_name")) {
      named =
          named || (m["pid"] == 0 && m["tid"] == p && m["args"]["name"] == "P" + std::to_string(p));
    }
    EXPECT_TRUE(named) << "P" << p;
  }
}

std::string get(const http::testing::TestServer& s, std::string_view target) {
  net::Conn c = http::testing::dial(s);
  const std::string req =
      "GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  EXPECT_TRUE(c.write(req).ok());
  return http::testing::read_all(c);
}

// The endpoint: JSON for ?seconds=N, 409 while another trace runs, 400 for a bad N.
TEST(ExecutionTrace, Endpoint) {
  runtime::Runtime rt(runtime::Options{.procs = 2});
  rt.run([&] {
    DebugOptions options;
    options.program = "spindle-test";
    DebugHandler debug(options);
    http::testing::TestServer s([&](http::Request& r, http::ResponseWriter& w) { debug(r, w); });
    const std::string index = get(s, "/debug/pprof/");
    EXPECT_NE(index.find("/debug/pprof/trace?seconds=N"), std::string::npos) << index;
    EXPECT_EQ(index.find("execution trace"), index.find("execution trace for N seconds"));

    const std::string ok = get(s, "/debug/pprof/trace?seconds=0.05");
    ASSERT_TRUE(ok.starts_with("HTTP/1.1 200 OK\r\n")) << ok.substr(0, 300);
    EXPECT_NE(ok.find("Content-Type: application/json"), std::string::npos);
    const json trace = parse(ok.substr(ok.find("\r\n\r\n") + 4));
    EXPECT_FALSE(events(trace, "X").empty()) << "the server's own goroutines ran";
    expect_nested(trace);

    for (const char* bad : {"abc", "0", "61", "1x", "-1"}) {
      const std::string r = get(s, std::string("/debug/pprof/trace?seconds=") + bad);
      EXPECT_TRUE(r.starts_with("HTTP/1.1 400 ")) << bad << ": " << r;
    }
    auto held = runtime::trace::Session::start();
    ASSERT_NE(held, nullptr);
    const std::string busy = get(s, "/debug/pprof/trace?seconds=1");
    EXPECT_TRUE(busy.starts_with("HTTP/1.1 409 ")) << busy;
    EXPECT_NE(busy.find("tracing is already enabled"), std::string::npos);
  });
}

}  // namespace
}  // namespace spindle::debug
