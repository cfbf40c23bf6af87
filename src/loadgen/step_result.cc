#include "loadgen/step_result.h"

#include <algorithm>
#include <cstdio>

namespace spindle::loadgen {

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

Second& second_at(std::vector<Second>& timeline, std::int64_t origin, std::int64_t t) {
  auto i = static_cast<std::size_t>(std::max<std::int64_t>(0, (t - origin) / kSecond));
  if (timeline.size() <= i) timeline.resize(i + 1);
  return timeline[i];
}

std::string format(const char* fmt, double a, double b = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

}  // namespace

double StepResult::rate() const {
  if (requests < 2 || attack_ns() <= 0) return static_cast<double>(requests);
  return static_cast<double>(requests) * 1e9 / static_cast<double>(attack_ns());
}

double StepResult::throughput() const {
  if (total_ns() <= 0) return 0;
  return static_cast<double>(successes) * 1e9 / static_cast<double>(total_ns());
}

double StepResult::success_ratio() const {
  return requests ? static_cast<double>(successes) / static_cast<double>(requests) : 0;
}

double StepResult::error_ratio() const {
  return requests ? static_cast<double>(error_count) / static_cast<double>(requests) : 0;
}

double StepResult::cpu_cores() const {
  if (total_ns() <= 0) return 0;
  return static_cast<double>(cpu_ns) / static_cast<double>(total_ns());
}

double StepResult::cpu_per_request_ns() const {
  return requests ? static_cast<double>(cpu_ns) / static_cast<double>(requests) : 0;
}

bool StepResult::kept_rate() const { return shortfalls().empty(); }

std::vector<std::string> StepResult::shortfalls() const {
  std::vector<std::string> out;
  if (requests > 1 && rate() < 0.99 * offered_rate && !stopped) {
    out.push_back(format("sent %.2f req/s of the %.2f offered", rate(), offered_rate));
  }
  std::int64_t lag = send_lag.quantile(0.99);
  if (lag > kMaxKeptLagNs) {
    out.push_back(
        format("sends went out late: p99 %.3f ms behind schedule (spindle-load's own CPU or "
               "scheduling; the delay is in the latencies)",
               static_cast<double>(lag) / 1e6));
  }
  if (connection_waits > 0) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%llu requests (%.2f%%) found all %llu connections busy and waited for one "
                  "(the wait is in their latencies); raise --connections to offer more",
                  static_cast<unsigned long long>(connection_waits),
                  100.0 * static_cast<double>(connection_waits) / static_cast<double>(requests),
                  static_cast<unsigned long long>(connection_limit));
    out.push_back(buf);
  }
  return out;
}

Recorder::Recorder(double offered_rate, std::int64_t planned_ns, std::int64_t origin_ns,
                   std::uint64_t connection_limit) {
  r_.offered_rate = offered_rate;
  r_.planned_ns = planned_ns;
  r_.origin_ns = origin_ns;
  r_.connection_limit = connection_limit;
}

void Recorder::record(const Outcome& o) {
  runtime::MutexLock lock(mu_);
  StepResult& r = r_;
  r.earliest_ns = r.requests == 0 ? o.sent_ns : std::min(r.earliest_ns, o.sent_ns);
  r.latest_ns = std::max(r.latest_ns, o.sent_ns);
  r.end_ns = std::max(r.end_ns, o.end_ns);
  ++r.requests;
  r.latencies.record(o.end_ns - o.scheduled_ns);
  r.send_lag.record(o.sent_ns - o.scheduled_ns);
  r.bytes_in += o.bytes_in;
  r.bytes_out += o.bytes_out;
  ++r.status_codes[o.status];
  if (o.waited_for_connection) ++r.connection_waits;
  ++second_at(r.timeline, r.origin_ns, o.sent_ns).sent;
  Second& done = second_at(r.timeline, r.origin_ns, o.end_ns);
  if (o.error.empty()) {
    ++r.successes;
    ++done.ok;
    return;
  }
  ++r.error_count;
  ++done.errors;
  if (std::find(r.errors.begin(), r.errors.end(), o.error) != r.errors.end()) return;
  if (r.errors.size() < StepResult::kMaxErrors) {
    r.errors.push_back(o.error);
  } else {
    ++r.errors_not_listed;
  }
}

void Recorder::stop() {
  runtime::MutexLock lock(mu_);
  r_.stopped = true;
}

StepResult Recorder::result() const {
  runtime::MutexLock lock(mu_);
  return r_;
}

}  // namespace spindle::loadgen
