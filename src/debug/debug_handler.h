// DebugHandler: the routes of a spindle program's debug listener (`--debug-listen`), mountable
// by any program in one call: /healthz, /ready, /metrics (Prometheus text format) and the
// /debug/pprof/ index. A program adds its own metrics and readiness; the runtime's and the
// process's metrics come with it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "debug/metrics_text.h"
#include "http/server.h"

namespace spindle::debug {

struct DebugOptions {
  std::string program;  // e.g. "spindle-lb": names the pages
  // Adds the program's own metric families to a scrape (after the runtime's and process's).
  std::function<void(MetricsText&)> metrics;
  // Why the program is not ready to take traffic ("draining", "no healthy backend"), or ""
  // when it is. Unset: always ready.
  std::function<std::string()> not_ready;
};

class DebugHandler {
 public:
  explicit DebugHandler(DebugOptions options);

  // Answers one of its routes and returns true; false (nothing written) for other paths, so a
  // program can mount it beside routes of its own.
  bool serve(http::Request& req, http::ResponseWriter& w);
  // Only /healthz and /ready (for an admin listener that shows no metrics): true if answered.
  bool serve_health(http::Request& req, http::ResponseWriter& w);
  // serve(), or 404 listing the routes: the whole handler of a debug listener.
  void operator()(http::Request& req, http::ResponseWriter& w);

  // The body /metrics serves now.
  std::string metrics_text();

 private:
  void index(http::ResponseWriter& w);
  DebugOptions options_;
};

}  // namespace spindle::debug
