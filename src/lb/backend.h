// Backend: one upstream server the balancer routes to, with the counters the pickers, the
// outlier detector and GET /_lb/backends read. Shared (std::shared_ptr) between the registry
// and every snapshot that lists it, so a deregistered backend lives until its last in-flight
// request finishes. Counters are atomics written by request goroutines without a lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "base/time.h"
#include "debug/histogram.h"
#include "http/connection_pool.h"
#include "lb/backend_url.h"
#include "lb/response_counts.h"
#include "runtime/profile/labels.h"

namespace spindle::lb {

struct Backend {
  Backend(BackendUrl u, std::string n, int w, bool fixed, http::HostPool* p)
      : url(std::move(u)),
        name(std::move(n)),
        weight(w),
        is_static(fixed),
        pool(p),
        labels{{"backend", name}} {}

  const BackendUrl url;
  const std::string name;
  const int weight;            // 1..kMaxWeight, for the weighted picker
  const bool is_static;        // from --backend: never expires
  http::HostPool* const pool;  // owned by the proxy's Client; outlives the backend
  // backend=NAME: the goroutine labels of a request while it is routed here, so CPU profiles
  // can be cut by backend (go tool pprof -tagfocus backend=NAME). Built once.
  const runtime::LabelSet labels;

  // Hot: touched by every request routed here.
  alignas(64) std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::uint64_t> requests{0};  // proxied requests that got a response
  std::atomic<std::uint64_t> ewma_ns{0};   // response-head latency, EWMA (0: unknown)
  StatusCounts responses;                  // its answers passed on to clients, by status class
  // For /metrics: answered attempts, sent until the response head; requests whose last
  // backend this was, head read until the answer ended (any status).
  debug::Histogram upstream_seconds{debug::Histogram::latency_bounds()};
  debug::Histogram request_seconds{debug::Histogram::latency_bounds()};
  // Failure path: written on errors only.
  alignas(64) std::atomic<std::uint64_t> failures{0};  // connect, reset, timeout, bad reply
  std::atomic<std::uint32_t> consecutive_failures{0};
  std::atomic<std::uint32_t> ejections{0};         // times ejected so far (back-off exponent)
  std::atomic<std::int64_t> ejected_until_ns{0};   // 0: not ejected
  std::atomic<std::int64_t> last_heartbeat_ns{0};  // steady clock
  // Silent past the heartbeat timeout, counted as a missed heartbeat once until it heartbeats
  // again. Read and written under the registry's mutex only.
  bool heartbeat_overdue = false;

  bool ejected() const { return ejected_until_ns.load(std::memory_order_relaxed) != 0; }
};

inline constexpr int kMaxWeight = 100;

}  // namespace spindle::lb
