// Proxy: the handler that forwards every non-admin request to a backend chosen by the picker,
// streaming bodies both ways, with admission control, failover, one retry and outlier
// accounting. Design: the comment at the top of proxy.cc and docs/lb.md.
#pragma once

#include <atomic>
#include <cstdint>

#include "http/client.h"
#include "http/server.h"
#include "lb/admission.h"
#include "lb/failure_policy.h"
#include "lb/forwarding.h"
#include "lb/picker.h"
#include "lb/registry.h"
#include "lb/request_body.h"

namespace spindle::lb {

struct ProxyStats {
  std::uint64_t requests = 0;         // requests handled by the proxy (not admin)
  std::uint64_t no_backend = 0;       // 503: nothing to route to
  std::uint64_t overloaded = 0;       // 503: refused by admission
  std::uint64_t bad_gateway = 0;      // 502 answered
  std::uint64_t gateway_timeout = 0;  // 504 answered
  std::uint64_t failovers = 0;        // connect failures sent to another backend
  std::uint64_t retries = 0;          // idempotent requests retried after a reset
  std::uint64_t canceled = 0;         // clients gone before the response ended
  std::uint64_t aborted = 0;          // responses cut short by an upstream failure mid-body
  std::uint64_t too_large = 0;        // 413: request body over --max-body-size
  // Exchanges the client broke (its body malformed, short, too large or too slow): the
  // client's failures, never counted against a backend.
  std::uint64_t client_errors = 0;
  std::uint64_t slow_bodies = 0;  // 408: request body slower than --body-timeout/--body-min-rate
};

class Proxy {
 public:
  // body: how request bodies are read (request_body.h), with their size limit.
  Proxy(Registry& registry, Picker& picker, Admission& admission, BodyOptions body = {});

  // The handler: runs on the client connection's goroutine, parks on upstream I/O.
  void serve(http::Request& req, http::ResponseWriter& w);
  ProxyStats stats() const;

 private:
  // Prepare the upstream request, send it (to further backends as next_step says), answer.
  void forward(http::Request& req, http::ResponseWriter& w, const Snapshot& snap,
               const UpstreamTarget& target, http::BodyFraming framing, RequestBody& body);
  // One attempt on b; a response head is its success (latency recorded).
  http::Result<http::ClientResponse> send(Backend& b, const http::ClientRequest& creq);
  void charge(Blame blame, Backend& b);
  // The answer to a failure (next.step == kAnswer) while nothing of the response went out.
  void answer_failure(http::ResponseWriter& w, const NextStep& next, const http::Error& e,
                      const Backend& b);
  // A response body read that failed: answered (502/504, or the client's 4xx) if nothing went
  // out yet, else the response is cut short; charged to the side that caused it.
  void end_failed_response(http::ResponseWriter& w, http::ClientResponse& resp, Backend& b,
                           const http::Error& read_error);
  // The answer to a failure of the client's side (its body): counted, never the backend's.
  void reply_client_error(http::ResponseWriter& w, const http::Error& e);
  void stream_response(http::Request& req, http::ResponseWriter& w, http::ClientResponse& resp,
                       Backend& b);

  Registry& registry_;
  Picker& picker_;
  Admission& admission_;
  const BodyOptions body_options_;
  std::atomic<std::uint64_t> requests_{0}, no_backend_{0}, overloaded_{0}, bad_gateway_{0},
      gateway_timeout_{0}, failovers_{0}, retries_{0}, canceled_{0}, aborted_{0}, too_large_{0},
      client_errors_{0}, slow_bodies_{0};
};

}  // namespace spindle::lb
