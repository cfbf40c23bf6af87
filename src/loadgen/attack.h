// Attacker: sends requests on an open-loop schedule (vegeta's attack model). A pacer goroutine
// starts one goroutine per request at its scheduled time (those due within 200 µs of each
// other together) whatever the server does, until every connection is busy; each measures
// its latency from the scheduled time, so a stalled server shows its stall in the latencies
// instead of hiding it by slowing the sender down (docs/loadgen.md, "The schedule").
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http/client.h"
#include "loadgen/step_result.h"
#include "loadgen/target.h"

namespace spindle::loadgen {

class ResultsWriter;  // loadgen/results.h

struct AttackOptions {
  std::vector<Target> targets;  // sent round-robin; at least one
  // Open connections per host (the keep-alive pool's limit); requests past it wait in the
  // pacer for one, and count as having waited.
  std::size_t connections = 1000;
  // Dial, writing the request, and waiting for the response head are each bounded by it, and
  // the whole response body must arrive within it of the send.
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  // When set, every request's outcome is also written to it (--results).
  ResultsWriter* results = nullptr;
};

// What a running step has done so far, for a progress line (relaxed counters).
struct Progress {
  double offered_rate = 0;
  std::int64_t step_start_ns = 0;
  std::uint64_t sent = 0;
  std::uint64_t done = 0;
  std::uint64_t errors = 0;
  std::int64_t in_flight = 0;
};

// What warm_up() did.
struct WarmUp {
  std::size_t wanted = 0;  // connections asked for, over all hosts
  std::size_t opened = 0;
  std::string error;  // the first failed dial ("host: why"), empty if none failed
};

class Attacker {
 public:
  explicit Attacker(AttackOptions options);
  // Must be destroyed from a goroutine (the client closes its idle connections).
  ~Attacker();

  // Opens up to `per_host` connections to each target host (capped by the pool's idle cap,
  // `connections`) and leaves them idle in its pool, so the first step measures requests
  // rather than dials, as wrk connects all of its connections before it starts its clock. A burst
  // of dials in the first milliseconds of a step at tens of thousands of requests per second makes
  // the responses late, which makes requests find every connection busy, which dials more. Dials a
  // few at a time per host and stops at a host's first failed dial. Then readies a goroutine
  // stack per connection opened (touched, in the runtime's cache), so that the first step does
  // not pay for new stacks in its first burst either. Call from a goroutine, before run().
  WarmUp warm_up(std::size_t per_host);

  // Sends rate req/s for `duration`, waits for every response (or its timeout) and returns
  // the step's figures. `origin_ns` (steady clock) is the run's start: the timelines of a
  // ramp's steps share it. Runs on the calling goroutine; one step at a time.
  StepResult run(double rate, std::chrono::nanoseconds duration, std::int64_t origin_ns);

  // Stops the step under way (and makes later run() calls return at once): no more requests
  // are started; run() returns once those in flight have ended. From any goroutine or thread.
  void stop() { stopped_.store(true, std::memory_order_relaxed); }

  // From any goroutine or thread.
  Progress progress() const;
  // Totals over every step so far (for metrics).
  std::uint64_t total_sent() const { return total_sent_.load(std::memory_order_relaxed); }
  std::uint64_t total_errors() const { return total_errors_.load(std::memory_order_relaxed); }

 private:
  struct Prepared;  // a target with its pool and header views
  void send_one(const Prepared& p, std::int64_t scheduled_ns, bool waited, Recorder& rec);

  AttackOptions options_;
  http::Client client_;
  std::vector<std::unique_ptr<Prepared>> prepared_;
  std::vector<http::HostPool*> pools_;  // one per target host, in first-use order
  std::atomic<double> offered_rate_{0};
  std::atomic<std::int64_t> step_start_ns_{0};
  std::atomic<std::uint64_t> sent_{0}, done_{0}, errors_{0};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> total_sent_{0}, total_errors_{0};
};

}  // namespace spindle::loadgen
