#include "debug/debug_handler.h"

#include <utility>

#include "debug/goroutine_dump.h"
#include "debug/pages.h"
#include "debug/pprof_pages.h"
#include "debug/process_metrics.h"
#include "debug/runtime_metrics.h"
#include "debug/trace_json.h"

namespace spindle::debug {
namespace {

constexpr std::string_view kRoutes =
    "/healthz        200 while the process is alive\n"
    "/ready          200 when ready for traffic, 503 and the reason when not\n"
    "/metrics        Prometheus metrics (text format 0.0.4)\n"
    "/debug/pprof/   this index\n"
    "/debug/pprof/profile  CPU profile for ?seconds=N (default 30)\n"
    "/debug/pprof/block    where goroutines waited (SPINDLE_DEBUG=blockprofilerate=NS)\n"
    "/debug/pprof/mutex    holders of contended mutexes (SPINDLE_DEBUG=mutexprofilefraction=N)\n"
    "/debug/pprof/goroutine           goroutine profile (pprof's protobuf)\n"
    "/debug/pprof/goroutine?debug=1   goroutines grouped by stack, with counts\n"
    "/debug/pprof/goroutine?debug=2   every goroutine: state, wait, stack, creator\n"
    "/debug/pprof/trace?seconds=N     execution trace for N seconds (default 1): JSON for "
    "Perfetto\n"
    "/debug/pprof/symbol   addresses to function names, for pprof\n";

}  // namespace

DebugHandler::DebugHandler(DebugOptions options) : options_(std::move(options)) {}

std::string DebugHandler::metrics_text() {
  MetricsText out;
  write_runtime_metrics(out);
  write_process_metrics(out);
  if (options_.metrics) options_.metrics(out);
  return out.text();
}

void DebugHandler::index(http::ResponseWriter& w) {
  std::string body = options_.program + " debug listener\n\n";
  body += kRoutes;
  body += "\nNot served yet: heap and allocation profiles, thread creation profiles.\n";
  (void)w.reply(200, body, kText);
}

namespace {

std::string_view path_of(const http::Request& req) {
  return req.target().substr(0, req.target().find('?'));
}

// False (and 405 answered) unless GET or HEAD.
bool readable(http::Request& req, http::ResponseWriter& w) {
  if (req.method() == http::Method::kGet || req.method() == http::Method::kHead) return true;
  (void)w.reply(405, "only GET and HEAD\n", {{"Allow", "GET, HEAD"}, kText[0]});
  return false;
}

}  // namespace

bool DebugHandler::serve_health(http::Request& req, http::ResponseWriter& w) {
  const std::string_view path = path_of(req);
  if (path != "/healthz" && path != "/ready") return false;
  if (!readable(req, w)) return true;
  if (path == "/healthz") {
    (void)w.reply(200, "ok\n", kText);
    return true;
  }
  const std::string why = options_.not_ready ? options_.not_ready() : std::string();
  if (why.empty()) {
    (void)w.reply(200, "ready\n", kText);
  } else {
    (void)w.reply(503, "not ready: " + why + "\n", kText);
  }
  return true;
}

bool DebugHandler::serve(http::Request& req, http::ResponseWriter& w) {
  if (serve_health(req, w)) return true;
  const std::string_view path = path_of(req);
  const bool profile = is_pprof_page(path);
  if (path != "/metrics" && path != "/debug/pprof/" && path != "/debug/pprof" &&
      path != "/debug/pprof/goroutine" && path != "/debug/pprof/trace" && !profile) {
    return false;
  }
  if (profile) {
    serve_pprof_page(path, req, w);  // checks the method itself (symbol takes POST)
    return true;
  }
  if (!readable(req, w)) return true;
  if (path == "/debug/pprof/goroutine") {
    const Page page = goroutine_page(query_of(req.target()));
    if (page.profile) {
      reply_profile(w, page.body, "goroutine");
    } else {
      (void)w.reply(page.status, page.body, kText);
    }
  } else if (path == "/debug/pprof/trace") {
    serve_execution_trace(req.target(), w);
  } else if (path == "/metrics") {
    const std::string body = metrics_text();
    (void)w.reply(200, body, {{"Content-Type", kMetricsContentType}});
  } else {
    index(w);
  }
  return true;
}

void DebugHandler::operator()(http::Request& req, http::ResponseWriter& w) {
  if (serve(req, w)) return;
  (void)w.reply(
      404, options_.program + " debug listener: no such page; routes:\n" + std::string(kRoutes),
      kText);
}

}  // namespace spindle::debug
