// The service spindle-backend runs: a handler that names the backend in every answer and can
// simulate a real service (latency, CPU work, large bodies, failures), plus the endpoints the
// integration tests and benchmarks observe it through. Routes:
//   GET /_stats   JSON: name, accepted (connections), active, requests, in_flight; no simulation
//   /echo         streams the request body back (same Content-Length, or chunked)
//   /sink         reads and drops the request body, answers "NAME received N bytes"
//   /headers      JSON array of the request's [name, value] fields as received
//   anything else "hello from NAME", or --body-bytes N bytes streamed
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "base/time.h"
#include "http/server.h"

namespace spindle::backend {

struct ServiceOptions {
  std::string name;
  base::Duration delay{0};       // parks before answering
  base::Duration cpu_work{0};    // busy loop before answering
  std::uint64_t body_bytes = 0;  // response body size of "/" (0: the hello text)
  double fail_ratio = 0;         // share of requests answered 500
};

// Thread-safe: one Service serves every connection goroutine of its Server.
class Service {
 public:
  explicit Service(ServiceOptions options);
  // The server whose connection counts /_stats reports; set before it serves.
  void set_server(const http::Server* server) { server_ = server; }
  void handle(http::Request& req, http::ResponseWriter& w);

 private:
  // Delay and CPU work; true when this request is to fail (fail_ratio).
  bool simulate();
  void stats(http::ResponseWriter& w);
  void echo(http::Request& req, http::ResponseWriter& w);
  void sink(http::Request& req, http::ResponseWriter& w);
  void headers(http::Request& req, http::ResponseWriter& w);
  void body(http::ResponseWriter& w);

  const ServiceOptions options_;
  const std::string hello_;
  const http::Server* server_ = nullptr;
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::uint64_t> random_state_;
};

}  // namespace spindle::backend
