#include "loadgen/report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace spindle::loadgen {

namespace {

using nlohmann::json;

std::string printf_string(const char* fmt, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

// v / 10^digits with the fraction's trailing zeros dropped ("1.5", "145.082066", "3").
std::string fixed_trimmed(std::int64_t v, int digits) {
  std::int64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  std::string s = std::to_string(v / scale);
  std::int64_t frac = v % scale;
  if (frac == 0) return s;
  std::string f = printf_string("%0*lld", digits, static_cast<long long>(frac));
  while (!f.empty() && f.back() == '0') f.pop_back();
  return s + "." + f;
}

std::string line(const char* name, const char* fields, const std::string& values) {
  return printf_string("%-13s %-33s %s\n", name, fields, values.c_str());
}

std::string durations(std::initializer_list<std::int64_t> ns) {
  std::string out;
  for (std::int64_t v : ns) out += (out.empty() ? "" : ", ") + go_duration(v);
  return out;
}

double mean(std::uint64_t total, std::uint64_t n) {
  return n ? static_cast<double>(total) / static_cast<double>(n) : 0;
}

json latencies_json(const LatencyHistogram& h) {
  return {{"total", static_cast<double>(h.count()) * h.mean()},
          {"mean", h.mean()},
          {"50th", h.quantile(0.5)},
          {"90th", h.quantile(0.9)},
          {"95th", h.quantile(0.95)},
          {"99th", h.quantile(0.99)},
          {"max", h.max()},
          {"min", h.min()}};
}

json histogram_json(const LatencyHistogram& h) {
  json buckets = json::array();
  for (const auto& b : h.buckets()) buckets.push_back({b.lower, b.upper, b.count});
  return {{"unit", "ns"},
          {"sub_bucket_bits", LatencyHistogram::kSubBucketBits},
          {"max_value", LatencyHistogram::kMaxValue},
          {"count", h.count()},
          {"min", h.min()},
          {"max", h.max()},
          {"clamped", h.clamped()},
          {"buckets", buckets}};
}

json step_json(const StepResult& s) {
  json codes = json::object();
  for (const auto& [code, n] : s.status_codes) codes[std::to_string(code)] = n;
  json timeline = json::array();
  for (std::size_t i = 0; i < s.timeline.size(); ++i) {
    const Second& t = s.timeline[i];
    if (t.sent + t.ok + t.errors == 0) continue;
    timeline.push_back({{"second", i}, {"sent", t.sent}, {"ok", t.ok}, {"errors", t.errors}});
  }
  json cpu = {
      {"total", s.cpu_ns}, {"per_request", s.cpu_per_request_ns()}, {"cores", s.cpu_cores()}};
  return {{"offered_rate", s.offered_rate},
          {"planned_duration", s.planned_ns},
          {"requests", s.requests},
          {"rate", s.rate()},
          {"throughput", s.throughput()},
          {"success", s.success_ratio()},
          {"earliest", s.earliest_ns - s.origin_ns},
          {"latest", s.latest_ns - s.origin_ns},
          {"end", s.end_ns - s.origin_ns},
          {"duration", s.attack_ns()},
          {"wait", s.wait_ns()},
          {"total", s.total_ns()},
          {"latencies", latencies_json(s.latencies)},
          {"bytes_in", {{"total", s.bytes_in}, {"mean", mean(s.bytes_in, s.requests)}}},
          {"bytes_out", {{"total", s.bytes_out}, {"mean", mean(s.bytes_out, s.requests)}}},
          {"status_codes", codes},
          {"errors", s.errors},
          {"errors_not_listed", s.errors_not_listed},
          {"send_lag", latencies_json(s.send_lag)},
          {"generator_cpu", cpu},
          {"connection_limit", s.connection_limit},
          {"connection_waits", s.connection_waits},
          {"kept_rate", s.kept_rate()},
          {"shortfalls", s.shortfalls()},
          {"histogram", histogram_json(s.latencies)},
          {"timeline", timeline},
          {"stopped", s.stopped}};
}

}  // namespace

std::string go_duration(std::int64_t ns) {
  if (ns == 0) return "0s";
  if (ns < 0) return "-" + go_duration(-ns);
  if (ns < 1000) return std::to_string(ns) + "ns";
  if (ns < 1'000'000) return fixed_trimmed(ns, 3) + "\xC2\xB5s";
  if (ns < 1'000'000'000) return fixed_trimmed(ns, 6) + "ms";
  constexpr std::int64_t kMinute = 60'000'000'000, kHour = 60 * kMinute;
  std::string out;
  if (ns >= kHour) out += std::to_string(ns / kHour) + "h";
  if (ns >= kMinute) out += std::to_string(ns % kHour / kMinute) + "m";
  return out + fixed_trimmed(ns % kMinute, 9) + "s";
}

std::string progress_line(const Progress& p, std::int64_t now_ns) {
  double elapsed = static_cast<double>(now_ns - p.step_start_ns) / 1e9;
  double achieved = elapsed > 0 ? static_cast<double>(p.sent) / elapsed : 0;
  return printf_string("%.2f req/s offered: %.1fs, sent %llu (%.2f/s), in flight %lld, errors %llu",
                       p.offered_rate, elapsed, static_cast<unsigned long long>(p.sent), achieved,
                       static_cast<long long>(p.in_flight),
                       static_cast<unsigned long long>(p.errors));
}

std::string text_report(const StepResult& s) {
  const LatencyHistogram& l = s.latencies;
  std::string out;
  out += line("Requests", "[total, rate, throughput]",
              printf_string("%llu, %.2f, %.2f", static_cast<unsigned long long>(s.requests),
                            s.rate(), s.throughput()));
  out += line("Duration", "[total, attack, wait]",
              durations({s.total_ns(), s.attack_ns(), s.wait_ns()}));
  out += line("Latencies", "[min, mean, 50, 90, 95, 99, max]",
              durations({l.min(), static_cast<std::int64_t>(l.mean()), l.quantile(0.5),
                         l.quantile(0.9), l.quantile(0.95), l.quantile(0.99), l.max()}));
  out += line("Bytes In", "[total, mean]",
              printf_string("%llu, %.2f", static_cast<unsigned long long>(s.bytes_in),
                            mean(s.bytes_in, s.requests)));
  out += line("Bytes Out", "[total, mean]",
              printf_string("%llu, %.2f", static_cast<unsigned long long>(s.bytes_out),
                            mean(s.bytes_out, s.requests)));
  out += line("Success", "[ratio]", printf_string("%.2f%%", 100 * s.success_ratio()));
  std::string codes;
  for (const auto& [code, n] : s.status_codes) {
    codes += printf_string("%s%d:%llu", codes.empty() ? "" : "  ", code,
                           static_cast<unsigned long long>(n));
  }
  out += line("Status Codes", "[code:count]", codes);
  out += line("Send Lag", "[50, 99, max]",
              durations({s.send_lag.quantile(0.5), s.send_lag.quantile(0.99), s.send_lag.max()}));
  out += line("Generator CPU", "[total, per request, cores]",
              durations({s.cpu_ns, static_cast<std::int64_t>(s.cpu_per_request_ns())}) +
                  printf_string(", %.2f", s.cpu_cores()));
  out += line("Offered", "[rate, kept]",
              printf_string("%.2f, %s", s.offered_rate, s.kept_rate() ? "yes" : "NO"));
  for (const std::string& why : s.shortfalls()) out += "Not kept: " + why + "\n";
  if (s.stopped)
    out += "Stopped: interrupted before the planned " + go_duration(s.planned_ns) + "\n";
  out += "Error Set:\n";
  for (const std::string& e : s.errors) out += e + "\n";
  if (s.errors_not_listed > 0) {
    out += printf_string("(%llu more failures with errors not listed)\n",
                         static_cast<unsigned long long>(s.errors_not_listed));
  }
  return out;
}

std::string text_summary(const std::vector<StepResult>& steps, const RampSummary& summary,
                         const Limits& limits) {
  std::string out =
      printf_string("Ramp summary: limits error ratio <= %.2f%%", 100 * limits.max_error_ratio);
  out += limits.max_p99.count() > 0 ? ", p99 <= " + go_duration(limits.max_p99.count()) : "";
  out += "\n";
  if (summary.knee) {
    const StepResult& k = steps[*summary.knee];
    out += printf_string("Knee: %.2f req/s (p99 %s, error ratio %.2f%%)\n", k.offered_rate,
                         go_duration(k.latencies.quantile(0.99)).c_str(), 100 * k.error_ratio());
  } else {
    out += "Knee: none, the first step already broke the limits\n";
  }
  if (summary.broke_at) {
    out += printf_string("Broke at: %.2f req/s: %s\n", steps[*summary.broke_at].offered_rate,
                         summary.why.c_str());
  } else if (!steps.empty()) {
    out += printf_string("Broke at: none, the limits held up to %.2f req/s\n",
                         steps.back().offered_rate);
  }
  for (std::size_t i : summary.not_kept) {
    out += printf_string(
        "Not kept: at %.2f req/s spindle-load did not keep the offered schedule (see that "
        "step's report): its figures include spindle-load's own delays\n",
        steps[i].offered_rate);
  }
  return out;
}

std::string json_report(const std::vector<StepResult>& steps, bool ramp, const RampSummary& summary,
                        const Limits& limits) {
  json doc;
  doc["steps"] = json::array();
  for (const StepResult& s : steps) doc["steps"].push_back(step_json(s));
  if (ramp) {
    json sum = {{"max_error_ratio", limits.max_error_ratio},
                {"max_p99", limits.max_p99.count()},
                {"knee_rate", nullptr},
                {"broke_at_rate", nullptr},
                {"broke_because", summary.why},
                {"not_kept_rates", json::array()}};
    if (summary.knee) sum["knee_rate"] = steps[*summary.knee].offered_rate;
    if (summary.broke_at) sum["broke_at_rate"] = steps[*summary.broke_at].offered_rate;
    for (std::size_t i : summary.not_kept) sum["not_kept_rates"].push_back(steps[i].offered_rate);
    doc["summary"] = sum;
  }
  return doc.dump() + "\n";
}

}  // namespace spindle::loadgen
