// spindle-load: an open-loop HTTP load generator (docs/loadgen.md). Sends requests at a
// constant rate (or a ramp of rates), measures each latency from its scheduled send time, and
// reports per step in vegeta's layout, as JSON, and as an HTML page. Flags and wiring only.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "base/fd_limit.h"
#include "base/time.h"
#include "base/version.h"
#include "common/flags.h"
#include "debug/debug_server.h"
#include "http/server.h"
#include "loadgen/attack.h"
#include "loadgen/html.h"
#include "loadgen/report.h"
#include "loadgen/results.h"
#include "loadgen/schedule.h"
#include "net/listener.h"
#include "net/signals.h"
#include "runtime/runtime.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/wait_group.h"
#include "runtime/time.h"

namespace {

using namespace spindle;
using namespace std::chrono_literals;

struct Flags {
  std::string url, targets_file, body_file, method = "GET", output = "text", html, results;
  std::vector<std::string> headers;
  double rate = 50;
  std::string ramp;
  base::Duration duration = 10s, step_duration = 10s, timeout = 30s, max_p99 = 1s;
  double max_error_ratio = 0.01;
  std::size_t connections = 1000;
  long warm_connections = -1;  // -1: all of `connections`
  int procs = 0;
  std::string debug_listen;
  bool debug_listen_required = false;
};

// What the flags resolve to.
struct Plan {
  loadgen::AttackOptions attack;
  std::vector<double> rates;
  std::chrono::nanoseconds step_duration{};
  bool ramp = false;
  loadgen::Limits limits;
};

CLI::Option* add_flags(CLI::App& app, Flags& f) {
  app.add_option("url", f.url, "target: http://HOST[:PORT][/PATH] (or --targets)");
  app.add_option("--rate", f.rate, "requests per second")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd::add_duration(app, "--duration", &f.duration, "how long to send (250ms, 3s, 1m)");
  app.add_option("--ramp", f.ramp,
                 "START:STEP:MAX: rates from START up by STEP to MAX, --step-duration each; "
                 "stops at the first step that breaks --max-error-ratio or --max-p99");
  cmd::add_duration(app, "--step-duration", &f.step_duration, "duration of each ramp step");
  app.add_option("--max-error-ratio", f.max_error_ratio, "ramp limit: share of failed requests")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd::add_duration(app, "--max-p99", &f.max_p99, "ramp limit: p99 latency (0: none)");
  app.add_option("--connections", f.connections,
                 "open connections per host (keep-alive pool limit); 0: no limit")
      ->capture_default_str();
  app.add_option("--warm-connections", f.warm_connections,
                 "connections opened per host before the first step, so that it measures "
                 "requests rather than dials (default: all of --connections, as wrk opens its "
                 "connections before it starts; 0: dial only as requests need them, as vegeta "
                 "does)")
      ->check(CLI::NonNegativeNumber);
  cmd::add_duration(app, "--timeout", &f.timeout,
                    "bound on dial, request write, response head, body");
  app.add_option("--method", f.method, "request method")->capture_default_str();
  app.add_option("--header", f.headers, "'Name: value' added to every request (repeatable)");
  app.add_option("--body-file", f.body_file, "request body, read from this file");
  app.add_option("--targets", f.targets_file,
                 "targets file in vegeta's format: 'METHOD URL', header lines, '@BODYFILE', "
                 "blank line between targets; sent round-robin");
  app.add_option("--output", f.output, "report format: text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--html", f.html, "also write a self-contained HTML report with plots here");
  app.add_option("--results", f.results,
                 "also write every request's outcome to this file, a CSV line each as it ends "
                 "(docs/loadgen.md, \"Per-request results\")");
  app.add_option("--procs", f.procs, "processors (0: SPINDLE_MAXPROCS or the CPUs)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  auto* debug_listen = cmd::add_debug_listen(app, &f.debug_listen);
  app.set_version_flag("--version", base::version_line("spindle-load"));
  return debug_listen;
}

// The targets: the file's, or the URL with --method/--body-file; --header goes to every one,
// --body-file to those without a body of their own. False: printed why not.
bool targets(const Flags& f, std::vector<loadgen::Target>* out) {
  std::string body;
  if (!f.body_file.empty()) {
    auto b = loadgen::read_whole_file(f.body_file);
    if (!b) return std::fprintf(stderr, "spindle-load: --body-file %s\n", b.error().c_str()), false;
    body = std::move(b->text);
  }
  if (!f.targets_file.empty() == !f.url.empty()) {
    std::fprintf(stderr, "spindle-load: give a URL or --targets FILE (one of them)\n");
    return false;
  }
  if (!f.targets_file.empty()) {
    auto text = loadgen::read_whole_file(f.targets_file);
    if (!text)
      return std::fprintf(stderr, "spindle-load: --targets %s\n", text.error().c_str()), false;
    auto t = loadgen::parse_targets(text->text, loadgen::read_whole_file);
    if (!t) {
      std::fprintf(stderr, "spindle-load: %s: %s\n", f.targets_file.c_str(), t.error().c_str());
      return false;
    }
    *out = std::move(*t);
  } else {
    loadgen::Target t;
    t.method = f.method;
    if (auto r = loadgen::parse_url(f.url, &t); !r) {
      std::fprintf(stderr, "spindle-load: %s\n", r.error().c_str());
      return false;
    }
    out->push_back(std::move(t));
  }
  for (loadgen::Target& t : *out) {
    if (t.body.empty()) t.body = body;
    for (const std::string& h : f.headers) {
      auto p = loadgen::parse_header(h);
      if (!p) return std::fprintf(stderr, "spindle-load: --header: %s\n", p.error().c_str()), false;
      t.headers.push_back(std::move(*p));
    }
  }
  return true;
}

bool plan(const Flags& f, Plan* p) {
  if (!targets(f, &p->attack.targets)) return false;
  p->attack.timeout = f.timeout;
  p->limits.max_p99 = f.max_p99;
  p->attack.connections = f.connections;
  p->limits.max_error_ratio = f.max_error_ratio;
  p->ramp = !f.ramp.empty();
  if (p->ramp) {
    auto r = loadgen::parse_ramp(f.ramp);
    if (!r) return std::fprintf(stderr, "spindle-load: %s\n", r.error().c_str()), false;
    p->rates = r->rates();
    p->step_duration = f.step_duration;
  } else {
    p->rates = {f.rate};
    p->step_duration = f.duration;
  }
  return true;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(base::Clock::now().time_since_epoch())
      .count();
}

// stdout's reports and stderr's progress line share the terminal: whoever writes holds mu, and
// a report first clears the progress line.
struct Console {
  runtime::Mutex mu;
  bool progress_shown GUARDED_BY(mu) = false;

  void report(const std::string& text) {
    runtime::MutexLock lock(mu);
    if (progress_shown) std::fprintf(stderr, "\r\033[K");
    progress_shown = false;
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
  }
  void progress(const std::string& line) {
    runtime::MutexLock lock(mu);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    progress_shown = true;
  }
};

// Shows the progress line every 250 ms while `running` (only on a terminal).
void progress_loop(const loadgen::Attacker& a, const std::atomic<bool>& running, Console& out) {
  while (running.load(std::memory_order_relaxed)) {
    runtime::sleep_for(250ms);
    if (running.load(std::memory_order_relaxed)) {
      out.progress(loadgen::progress_line(a.progress(), now_ns()));
    }
  }
  out.report("");
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) std::fprintf(stderr, "spindle-load: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

// The run, as the main goroutine.
int run(const Flags& f, const Plan& p) {
  // Created before anything runs: a file that cannot be written stops the run before it sends.
  std::unique_ptr<loadgen::ResultsWriter> results;
  if (!f.results.empty()) {
    auto w = loadgen::ResultsWriter::create(f.results);
    if (!w) {
      std::fprintf(stderr, "spindle-load: --results: %s\n", w.error().c_str());
      return 1;
    }
    results = std::move(*w);
  }
  loadgen::AttackOptions attack = p.attack;
  attack.results = results.get();
  loadgen::Attacker attacker(std::move(attack));
  debug::DebugServer debug({.program = "spindle-load",
                            .metrics =
                                [&](debug::MetricsText& m) {
                                  auto pr = attacker.progress();
                                  m.counter("spindle_load_requests_total", "requests sent",
                                            static_cast<double>(attacker.total_sent()));
                                  m.counter("spindle_load_errors_total", "requests failed",
                                            static_cast<double>(attacker.total_errors()));
                                  m.gauge("spindle_load_in_flight", "requests awaiting answers",
                                          static_cast<double>(pr.in_flight));
                                  m.gauge("spindle_load_offered_rate", "req/s of the current step",
                                          pr.offered_rate);
                                },
                            .not_ready = {}});
  if (auto d = debug.listen(f.debug_listen, f.debug_listen_required); !d) {
    std::fprintf(stderr, "spindle-load: %s\n", d.error().c_str());
    return 1;
  }
  debug.start();
  runtime::WaitGroup background;
  std::atomic<bool> running{true};
  Console console;
  if (isatty(STDERR_FILENO)) {
    background.add(1);
    runtime::go([&] {
      progress_loop(attacker, running, console);
      background.done();
    });
  }

  // Ctrl-C (or SIGTERM) stops sending; the run's end wakes the watcher with a SIGTERM of its own.
  std::atomic<bool> finished{false};
  background.add(1);
  runtime::go([&] {
    auto sig = net::wait_for_signal({SIGINT, SIGTERM});
    if (!finished.load()) {
      console.report("");
      std::fprintf(stderr, "spindle-load: %s: stopping, waiting for the requests in flight\n",
                   sig ? strsignal(*sig) : sig.error().c_str());
      attacker.stop();
    }
    background.done();
  });

  const std::size_t warm =
      f.warm_connections < 0 ? f.connections : static_cast<std::size_t>(f.warm_connections);
  if (warm > 0) {
    loadgen::WarmUp w = attacker.warm_up(warm);
    if (!w.error.empty()) {
      std::fprintf(stderr,
                   "spindle-load: opened %zu of %zu connections before the first step: %s\n",
                   w.opened, w.wanted, w.error.c_str());
    }
  }
  std::vector<loadgen::StepResult> steps;
  const std::int64_t origin = now_ns();
  const bool text = f.output == "text";
  for (double rate : p.rates) {
    steps.push_back(attacker.run(rate, p.step_duration, origin));
    const loadgen::StepResult& s = steps.back();
    if (text) {
      std::string report = loadgen::text_report(s);
      if (p.ramp) {
        char head[64];
        std::snprintf(head, sizeof head, "--- %.2f req/s for %s\n", rate,
                      loadgen::go_duration(p.step_duration.count()).c_str());
        report = head + report;
      }
      console.report(report + (p.ramp ? "\n" : ""));
    }
    if (s.stopped || (p.ramp && !loadgen::broken_limits(s, p.limits).empty())) break;
  }
  running = false;
  finished = true;
  kill(getpid(), SIGTERM);
  auto summary = loadgen::summarize(steps, p.limits);
  if (text && p.ramp) console.report(loadgen::text_summary(steps, summary, p.limits));
  if (!text) console.report(loadgen::json_report(steps, p.ramp, summary, p.limits));
  int rc = 0;
  if (results) {
    if (auto closed = results->close(); !closed) {
      std::fprintf(stderr, "spindle-load: --results: %s\n", closed.error().c_str());
      rc = 1;
    }
  }
  if (!f.html.empty()) {
    std::string title = p.attack.targets.front().describe();
    if (p.attack.targets.size() > 1)
      title += " and " + std::to_string(p.attack.targets.size() - 1) + " more";
    if (!write_file(f.html, loadgen::html_report(title, steps, p.ramp, summary, p.limits))) rc = 1;
  }
  debug.shutdown();
  background.wait();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spindle-load: open-loop HTTP load at a constant rate or a ramp of rates"};
  Flags f;
  CLI::Option* debug_listen = add_flags(app, f);
  if (auto rc = spindle::cmd::parse_flags(app, argc, argv)) return *rc;
  f.debug_listen_required = debug_listen->count() > 0;
  Plan p;
  if (!plan(f, &p)) return spindle::cmd::kExitUsage;

  (void)base::raise_fd_limit();
  // Before any thread exists, so every runtime thread inherits the mask (net/signals.h).
  net::block_signals({SIGINT, SIGTERM});
  signal(SIGPIPE, SIG_IGN);
  int rc = 0;
  runtime::Runtime rt(runtime::Options{.procs = f.procs});
  rt.run([&] { rc = run(f, p); });
  return rc;
}
