#include "loadgen/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "loadgen/html.h"
#include "loadgen/ramp.h"

namespace spindle::loadgen {
namespace {

constexpr std::int64_t kMs = 1'000'000;

TEST(GoDuration, MatchesGosSpelling) {
  EXPECT_EQ(go_duration(0), "0s");
  EXPECT_EQ(go_duration(850), "850ns");
  EXPECT_EQ(go_duration(1500), "1.5\xC2\xB5s");
  EXPECT_EQ(go_duration(145'082'066), "145.082066ms");
  EXPECT_EQ(go_duration(10'094'965'987), "10.094965987s");
  EXPECT_EQ(go_duration(90'500'000'000), "1m30.5s");
  EXPECT_EQ(go_duration(7'200'000'000'000), "2h0m0s");
  EXPECT_EQ(go_duration(-kMs), "-1ms");
}

// A step of 10 requests at 10 req/s: 7 answered 200 with 100 bytes, one 404 with 9 bytes, one
// timeout, one reset; each sent 10 bytes.
StepResult scripted_step(double rate, std::int64_t latency_ns) {
  Recorder rec(rate, 1000 * kMs, 0, 2);
  for (int i = 0; i < 10; ++i) {
    Outcome o;
    o.scheduled_ns = i * 100 * kMs;
    o.sent_ns = o.scheduled_ns + kMs / 10;
    o.end_ns = o.scheduled_ns + latency_ns * (i + 1);
    o.bytes_out = 10;
    if (i < 7) {
      o.status = 200, o.bytes_in = 100;
    } else if (i == 7) {
      o.status = 404, o.bytes_in = 9, o.error = "404 Not Found";
    } else {
      o.error = i == 8 ? "upstream timeout: read: timed out" : "upstream network error: reset";
    }
    rec.record(o);
  }
  return rec.result();
}

TEST(TextReport, VegetasLayoutWithTheRightFigures) {
  StepResult s = scripted_step(10, 10 * kMs);
  s.cpu_ns = 250 * kMs;
  std::string r = text_report(s);
  EXPECT_NE(r.find("Requests      [total, rate, throughput]         10, 11.11, 7.00\n"),
            std::string::npos)
      << r;
  // First send at 0.1 ms, last at 900.1 ms, last answer at 900 ms + 100 ms.
  EXPECT_NE(r.find("Duration      [total, attack, wait]             999.9ms, 900ms, 99.9ms\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("Latencies     [min, mean, 50, 90, 95, 99, max]  10ms, 55ms, "),
            std::string::npos)
      << r;
  EXPECT_NE(r.find(", 100ms\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Bytes In      [total, mean]                     709, 70.90\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("Bytes Out     [total, mean]                     100, 10.00\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("Success       [ratio]                           70.00%\n"), std::string::npos)
      << r;
  EXPECT_NE(r.find("Status Codes  [code:count]                      0:2  200:7  404:1\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("Error Set:\n404 Not Found\nupstream timeout: read: timed out\n"
                   "upstream network error: reset\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("Send Lag      [50, 99, max]                     100µs, 100µs, 100µs\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("Offered       [rate, kept]                      10.00, yes\n"),
            std::string::npos)
      << r;
  // 250 ms over 10 requests, in a step of 999.9 ms.
  EXPECT_NE(r.find("Generator CPU [total, per request, cores]       250ms, 25ms, 0.25\n"),
            std::string::npos)
      << r;
}

TEST(TextReport, SaysWhenTheRateWasNotKept) {
  StepResult s = scripted_step(20, kMs);  // 20 offered, ~11 sent
  s.send_lag.record(50 * kMs);
  s.connection_waits = 3;
  std::string r = text_report(s);
  EXPECT_NE(r.find("Offered       [rate, kept]                      20.00, NO\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("Not kept: sent 11.11 req/s of the 20.00 offered\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Not kept: sends went out late: p99 50.000 ms"), std::string::npos) << r;
  EXPECT_NE(r.find("Not kept: 3 requests (30.00%) found all 2 connections busy"), std::string::npos)
      << r;
}

TEST(JsonReport, ParsesWithTheSameFiguresAndTheHistogram) {
  std::vector<StepResult> steps = {scripted_step(10, kMs), scripted_step(20, 10 * kMs)};
  steps[1].cpu_ns = 500 * kMs;
  Limits limits{0.5, std::chrono::milliseconds(50)};
  RampSummary sum = summarize(steps, limits);
  auto doc = nlohmann::json::parse(json_report(steps, true, sum, limits));
  ASSERT_EQ(doc["steps"].size(), 2u);
  const auto& s = doc["steps"][1];
  EXPECT_EQ(s["requests"], 10);
  EXPECT_EQ(s["status_codes"]["200"], 7);
  EXPECT_EQ(s["status_codes"]["0"], 2);
  EXPECT_EQ(s["bytes_in"]["total"], 709);
  EXPECT_DOUBLE_EQ(s["success"].get<double>(), 0.7);
  EXPECT_EQ(s["latencies"]["min"], 10 * kMs);
  EXPECT_EQ(s["latencies"]["max"], 100 * kMs);
  EXPECT_EQ(s["errors"].size(), 3u);
  EXPECT_EQ(s["duration"], 900 * kMs);
  EXPECT_EQ(s["generator_cpu"]["total"], 500 * kMs);
  EXPECT_DOUBLE_EQ(s["generator_cpu"]["per_request"].get<double>(), 50.0 * kMs);
  EXPECT_NEAR(s["generator_cpu"]["cores"].get<double>(), 0.5, 0.001);
  std::uint64_t total = 0;
  for (const auto& b : s["histogram"]["buckets"]) {
    EXPECT_LE(b[0].get<std::int64_t>(), b[1].get<std::int64_t>());
    total += b[2].get<std::uint64_t>();
  }
  EXPECT_EQ(total, 10u);
  EXPECT_EQ(s["timeline"][0]["sent"], 10);
  EXPECT_EQ(doc["summary"]["knee_rate"], 10.0);
  EXPECT_EQ(doc["summary"]["broke_at_rate"], 20.0);
  EXPECT_EQ(doc["summary"]["broke_because"], "p99 100ms > 50ms");
  EXPECT_FALSE(nlohmann::json::parse(json_report(steps, false, sum, limits)).contains("summary"));
}

TEST(RampSummary, KneeAndBreak) {
  std::vector<StepResult> steps = {scripted_step(10, kMs), scripted_step(20, kMs)};
  Limits lax{0.5, std::chrono::seconds(1)};
  RampSummary held = summarize(steps, lax);
  EXPECT_EQ(held.knee, 1u);
  EXPECT_FALSE(held.broke_at);
  EXPECT_EQ(held.not_kept, (std::vector<std::size_t>{1}));  // 20 offered, 11 sent
  std::string text = text_summary(steps, held, lax);
  EXPECT_NE(text.find("Knee: 20.00 req/s"), std::string::npos) << text;
  EXPECT_NE(text.find("Broke at: none, the limits held up to 20.00 req/s"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Not kept: at 20.00 req/s spindle-load did not keep"), std::string::npos)
      << text;
  Limits strict{0.1, std::chrono::seconds(0)};
  RampSummary broke = summarize(steps, strict);
  EXPECT_FALSE(broke.knee);
  EXPECT_EQ(broke.broke_at, 0u);
  EXPECT_EQ(broke.why, "error ratio 30.00% > 10.00%");
  EXPECT_NE(text_summary(steps, broke, strict).find("Knee: none"), std::string::npos);
}

TEST(HtmlReport, SelfContainedWithThreePlots) {
  std::vector<StepResult> steps = {scripted_step(10, kMs), scripted_step(20, 10 * kMs)};
  steps[1].cpu_ns = 450 * kMs;  // over 999.9 ms
  Limits limits{0.5, std::chrono::seconds(1)};
  std::string page =
      html_report("GET 127.0.0.1:1/<x>", steps, true, summarize(steps, limits), limits);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<x>"), std::string::npos);  // escaped
  std::size_t svgs = 0, lines = 0;
  for (std::size_t p = page.find("<svg"); p != std::string::npos; p = page.find("<svg", p + 1))
    ++svgs;
  for (std::size_t p = page.find("<polyline"); p != std::string::npos;
       p = page.find("<polyline", p + 1))
    ++lines;
  EXPECT_EQ(svgs, 3u);
  EXPECT_EQ(lines, 4u + 3u + 2u);  // percentiles, timeline series, one distribution per step
  EXPECT_NE(page.find("Knee: 20.00 req/s"), std::string::npos);
  EXPECT_NE(page.find("<td>0.00 cores</td>"), std::string::npos);  // no figure for the first
  EXPECT_NE(page.find("<td>0.45 cores</td>"), std::string::npos);
}

}  // namespace
}  // namespace spindle::loadgen
