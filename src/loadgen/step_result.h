// StepResult: what one step of an attack (a constant rate for a duration) measured, and
// Recorder, which request goroutines report their outcomes to. Latency counts from each
// request's scheduled send time, not from when it was actually sent (docs/loadgen.md,
// "Coordinated omission"); how late sends went out is kept apart as the send lag.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/thread_annotations.h"
#include "loadgen/histogram.h"
#include "runtime/sync/mutex.h"

namespace spindle::loadgen {

// Requests started, completed and failed in one second of the run (seconds counted from the
// run's origin, so the steps of a ramp share one time axis).
struct Second {
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
};

struct StepResult {
  double offered_rate = 0;             // req/s the schedule asked for
  std::int64_t planned_ns = 0;         // the step's planned duration
  std::int64_t origin_ns = 0;          // steady-clock ns of the run's start (time axis)
  std::uint64_t connection_limit = 0;  // per host; 0: none
  std::uint64_t requests = 0;
  std::uint64_t successes = 0;  // status 200..399
  std::uint64_t bytes_in = 0;   // response body bytes
  std::uint64_t bytes_out = 0;  // request body bytes
  // Steady-clock ns: first and last actual send, last completion.
  std::int64_t earliest_ns = 0;
  std::int64_t latest_ns = 0;
  std::int64_t end_ns = 0;
  LatencyHistogram latencies;                 // from the scheduled send time to the end of the body
  LatencyHistogram send_lag;                  // actual send minus scheduled send
  std::map<int, std::uint64_t> status_codes;  // 0: no response (network error, timeout)
  std::vector<std::string> errors;            // distinct, in order first seen
  std::uint64_t errors_not_listed = 0;        // failures whose error is not listed (list full)
  std::uint64_t error_count = 0;              // requests that failed (status 0 or >= 400)
  std::uint64_t connection_waits = 0;  // requests sent while the connection limit was reached
  std::vector<Second> timeline;
  // spindle-load's own CPU (user + system, the whole process) from the step's start to its
  // last answer: how close the generator itself came to its limit.
  std::int64_t cpu_ns = 0;
  bool stopped = false;  // stopped before its planned end (Attacker::stop)

  static constexpr std::size_t kMaxErrors = 100;

  // vegeta's figures: rate = requests / attack, throughput = successes / total.
  std::int64_t attack_ns() const { return latest_ns - earliest_ns; }
  std::int64_t wait_ns() const { return end_ns - latest_ns; }
  std::int64_t total_ns() const { return end_ns - earliest_ns; }
  double rate() const;
  double throughput() const;
  double success_ratio() const;
  double error_ratio() const;
  // Cores' worth of CPU the generator used over the step's total duration (0 if unknown).
  double cpu_cores() const;
  double cpu_per_request_ns() const;
  // Whether the offered rate was kept: sent at >= 99% of it, and the send lag's p99 under
  // kMaxKeptLagNs. Otherwise shortfalls() says why.
  static constexpr std::int64_t kMaxKeptLagNs = 1'000'000;
  bool kept_rate() const;
  // Sentences on what spindle-load could not do (empty when it kept the rate).
  std::vector<std::string> shortfalls() const;
};

// How one request ended.
struct Outcome {
  std::int64_t scheduled_ns = 0;
  std::int64_t sent_ns = 0;
  std::int64_t end_ns = 0;
  int status = 0;  // 0: no response
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  bool waited_for_connection = false;
  std::string error;  // empty: success
};

// Collects the outcomes of one step. Thread-safe: every request goroutine records into it.
class Recorder {
 public:
  Recorder(double offered_rate, std::int64_t planned_ns, std::int64_t origin_ns,
           std::uint64_t connection_limit);
  void record(const Outcome& o);
  // The step was stopped before its planned end.
  void stop();
  // The step so far (a copy).
  StepResult result() const;

 private:
  mutable runtime::Mutex mu_;
  StepResult r_ GUARDED_BY(mu_);
};

}  // namespace spindle::loadgen
