// Proxy: the handler that forwards every non-admin request to a backend chosen by the picker,
// streaming bodies both ways, with admission control, failover, one retry and outlier
// accounting. Design: the comment at the top of proxy.cc and docs/lb.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "base/stats.h"
#include "http/client.h"
#include "http/server.h"
#include "lb/admission.h"
#include "lb/failure_policy.h"
#include "lb/forwarding.h"
#include "lb/picker.h"
#include "lb/registry.h"
#include "lb/request_body.h"
#include "lb/response_counts.h"

namespace spindle::lb {

// The proxy's stats (base/stats.h): live in the proxy, a snapshot from stats().
template <class Cells>
struct ProxyStatsOf {
  typename Cells::Counter requests{}, no_backend{}, overloaded{}, bad_gateway{}, gateway_timeout{},
      failovers{}, retries{}, canceled{}, aborted{}, too_large{}, client_errors{}, slow_bodies{};

  template <class F, class... S>
  static constexpr void each(F&& f, S&&... s) {
    using base::MetricInfo;
    f(MetricInfo{"requests_total", "Requests handled by the proxy (not the API)."}, s.requests...);
    f(MetricInfo{"no_backend_total", "Requests answered 503: no backend to route to."},
      s.no_backend...);
    f(MetricInfo{"overloaded_total", "Requests answered 503 by admission (shed)."},
      s.overloaded...);
    f(MetricInfo{"bad_gateway_total", "Requests answered 502."}, s.bad_gateway...);
    f(MetricInfo{"gateway_timeout_total", "Requests answered 504."}, s.gateway_timeout...);
    f(MetricInfo{"failovers_total", "Requests sent to another backend after a failure."},
      s.failovers...);
    f(MetricInfo{"retries_total", "Idempotent requests retried after a reset."}, s.retries...);
    f(MetricInfo{"canceled_total", "Clients gone before their response ended."}, s.canceled...);
    f(MetricInfo{"aborted_total", "Responses cut short by a backend failing mid-body."},
      s.aborted...);
    f(MetricInfo{"too_large_total", "Requests answered 413: body over --max-body-size."},
      s.too_large...);
    // The client's failures, never counted against a backend.
    f(MetricInfo{"client_errors_total",
                 "Exchanges the client broke (body malformed, short, too large or too slow)."},
      s.client_errors...);
    f(MetricInfo{"slow_bodies_total", "Requests answered 408: request body too slow."},
      s.slow_bodies...);
  }
};
using ProxyStats = ProxyStatsOf<base::SnapshotCells>;

// What the proxy tells the access log (access_log.h) about one request.
struct ProxyOutcome {
  std::string request_id;  // sent upstream as X-Request-Id: the client's, or made here
  // The last backend tried (nullptr: none); `snapshot` keeps it alive.
  Backend* backend = nullptr;
  std::shared_ptr<const Snapshot> snapshot;
  std::int64_t upstream_ns = -1;  // its attempt: sent until the response head (-1: none)
  std::uint32_t retries = 0, failovers = 0;
  bool proxied = false;  // the answer is that backend's response (not the balancer's own)
};

class Proxy {
 public:
  // body: how request bodies are read (request_body.h), with their size limit.
  Proxy(Registry& registry, Picker& picker, Admission& admission, BodyOptions body = {});

  // The handler: runs on the client connection's goroutine, parks on upstream I/O.
  void serve(http::Request& req, http::ResponseWriter& w);
  // serve(), saying what happened in *outcome.
  void serve(http::Request& req, http::ResponseWriter& w, ProxyOutcome& outcome);
  ProxyStats stats() const;
  // Every answer sent (the backends' and the balancer's own), by method and status class;
  // requests the client left before any answer are not in it (stats().canceled).
  ResponseCounts::Snapshot responses() const { return responses_.snapshot(); }

 private:
  // serve() but for counting the answer.
  void serve_request(http::Request& req, http::ResponseWriter& w, ProxyOutcome& outcome);
  // Prepare the upstream request, send it (to further backends as next_step says), answer.
  void forward(http::Request& req, http::ResponseWriter& w, const Snapshot& snap,
               const UpstreamTarget& target, http::BodyFraming framing, RequestBody& body,
               ProxyOutcome& outcome);
  // One attempt on b; a response head is its success (latency recorded).
  http::Result<http::ClientResponse> send(Backend& b, const http::ClientRequest& creq,
                                          ProxyOutcome& outcome);
  void charge(Blame blame, Backend& b);
  // The answer to a failure (next.step == kAnswer) while nothing of the response went out.
  void answer_failure(http::ResponseWriter& w, const NextStep& next, const http::Error& e,
                      const Backend& b);
  // A response body read that failed: answered (502/504, or the client's 4xx) if nothing went
  // out yet (then true: the answer is no longer the backend's), else the response is cut
  // short; charged to the side that caused it.
  bool end_failed_response(http::ResponseWriter& w, http::ClientResponse& resp, Backend& b,
                           const http::Error& read_error);
  // The answer to a failure of the client's side (its body): counted, never the backend's.
  void reply_client_error(http::ResponseWriter& w, const http::Error& e);
  void stream_response(http::Request& req, http::ResponseWriter& w, http::ClientResponse& resp,
                       Backend& b, ProxyOutcome& outcome);

  Registry& registry_;
  Picker& picker_;
  Admission& admission_;
  const BodyOptions body_options_;
  ProxyStatsOf<base::LiveCells> stats_;
  ResponseCounts responses_;
};

}  // namespace spindle::lb
