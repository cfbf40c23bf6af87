// spindle-lb: flags and wiring only. The balancer is src/lb (docs/lb.md); the contract these
// flags implement is docs/lb-reference.md.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/fd_limit.h"
#include "base/log.h"
#include "base/time.h"
#include "base/version.h"
#include "common/flags.h"
#include "lb/balancer.h"
#include "net/signals.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"

using spindle::cmd::add_duration;
using spindle::cmd::add_log_flags;

int main(int argc, char** argv) {
  namespace log = spindle::base::log;
  spindle::lb::Config c;
  CLI::App app{
      "spindle-lb: a layer-7 HTTP/1.1 load balancer. Backends register over HTTP on the "
      "client listener, or on --admin-listen's (POST /_lb/register, /_lb/heartbeat, "
      "/_lb/deregister; GET /_lb/backends); every other request is proxied to a healthy "
      "backend."};
  app.get_formatter()->column_width(40);
  app.set_version_flag("--version", spindle::base::version_line("spindle-lb"));
  std::string policy = "round-robin";
  int procs = 0;
  app.add_option("--listen", c.listen,
                 "client traffic and, without --admin-listen, the registration API (paths "
                 "under /_lb/)")
      ->capture_default_str();
  app.add_option("--admin-listen", c.admin_listen,
                 "serve the registration API (/_lb/...) on this address instead; the client "
                 "listener then proxies /_lb/ paths like any other (default: none)");
  auto* debug_opt = spindle::cmd::add_debug_listen(app, &c.debug_listen);
  app.add_option("--policy", policy, "round-robin | least-conn | p2c-ewma | weighted")
      ->capture_default_str();
  app.add_option("--backend", c.backends,
                 "static backend http://HOST:PORT that never expires (repeatable)");
  app.add_option("--register-token", c.register_token,
                 "require 'Authorization: Bearer TOKEN' on every /_lb/ call (the POSTs and "
                 "GET /_lb/backends)")
      ->envname("SPINDLE_REGISTER_TOKEN");
  app.add_flag("--insecure-open-registration", c.insecure_open_registration,
               "allow registration without a token on a non-loopback address");
  add_duration(app, "--heartbeat-timeout", &c.heartbeat_timeout,
               "a backend silent this long, plus a grace of a third of it (at most 750ms), "
               "is removed (unless most backends that answer went silent at once)");
  app.add_option("--max-idle-per-backend", c.max_idle_per_backend,
                 "idle keep-alive connections kept per backend")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  app.add_option("--max-conns-per-backend", c.max_conns_per_backend,
                 "open connections per backend; 0 = unlimited (requests wait for one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  add_duration(app, "--connect-timeout", &c.connect_timeout,
               "connecting to a backend; then another backend is tried");
  add_duration(app, "--response-header-timeout", &c.response_header_timeout,
               "from the request's last byte sent to the response head; then 504");
  add_duration(app, "--idle-timeout", &c.idle_timeout,
               "idle pooled upstream connections older than this are not reused (keep it "
               "below the backends' own); also the client keep-alive timeout (min 5s)");
  app.add_option_function<std::string>(
         "--max-in-flight",
         [&c](const std::string& text) {
           if (text == "auto") {
             c.adaptive_in_flight = true;
             c.max_in_flight = spindle::lb::AdaptivePolicy{}.max_limit;
             return;
           }
           char* end = nullptr;
           errno = 0;
           long long n = std::strtoll(text.c_str(), &end, 10);
           if (text.empty() || *end != '\0' || errno != 0 || n < 0) {
             throw CLI::ValidationError("--max-in-flight",
                                        "'" + text + "' is not 'auto' or a count >= 0");
           }
           c.adaptive_in_flight = false;
           c.max_in_flight = n;
         },
         "requests proxied at once; more wait up to --queue-timeout, then 503 + "
         "Retry-After. N: fixed (default 1024); 0: unlimited; 'auto': a limit between 8 and "
         "1024 that shrinks when the backends' latency shows a standing queue (for backends "
         "that saturate under load; docs/lb.md)")
      ->type_name("N|auto");
  app.add_option("--max-body-size", c.max_body_size,
                 "request bodies larger than this (bytes; 10MiB, 1GB also work) get 413; "
                 "0 = unlimited")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--request-buffer", c.request_buffer,
                 "request body bytes read before a backend is picked: a smaller body is read "
                 "whole first, so a slow client holds no in-flight slot and no backend "
                 "connection (10KiB, 1MiB also work; 0: stream every body)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  add_duration(app, "--body-timeout", &c.body_timeout,
               "time a request body may spend arriving, plus 1s per --body-min-rate bytes "
               "received (only the waits for the client count); then 408");
  app.add_option("--body-min-rate", c.body_min_rate,
                 "bytes per second of request body that extend --body-timeout by 1s (0: the "
                 "timeout alone bounds every body)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  add_duration(app, "--queue-timeout", &c.queue_timeout,
               "how long a request waits for an in-flight slot");
  app.add_option("--procs", procs, "processors (GOMAXPROCS); 0 = the CPUs available")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  app.add_option("--max-connections", c.max_connections,
                 "client connections served at once; more are answered 503 and closed "
                 "(default: the open-file limit, raised to the hard limit at start, less "
                 "--max-in-flight and 64, at least half of it)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  app.add_option("--max-backends", c.max_backends, "registered backends at most; more get 409")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  add_duration(app, "--shutdown-grace", &c.shutdown_grace,
               "on SIGTERM/SIGINT: how long in-flight requests may take to finish");
  app.add_option("--panic-share", c.panic_share,
                 "if more than this share of the backends that answer requests go silent at "
                 "once, keep those (not the ones failing requests or that never answered)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--eject-after", c.eject_after,
                 "consecutive failures that eject a backend for a growing back-off")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  std::string log_level = "info", log_format = "text";
  add_log_flags(app, &log_level, &log_format);
  app.add_option("--access-log", c.access_log,
                 "one line per proxied request to this file ('-': stdout, 'off': none); "
                 "reopened on SIGHUP")
      ->capture_default_str();
  std::string access_log_format = "json";
  app.add_option("--access-log-format", access_log_format,
                 "json, or combined (nginx's layout plus the balancer's fields)")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "combined"}));
  if (auto rc = spindle::cmd::parse_flags(app, argc, argv)) return *rc;
  for (auto [name, d] : {std::pair{"--heartbeat-timeout", c.heartbeat_timeout},
                         {"--connect-timeout", c.connect_timeout},
                         {"--response-header-timeout", c.response_header_timeout},
                         {"--idle-timeout", c.idle_timeout},
                         {"--body-timeout", c.body_timeout}}) {
    if (d <= spindle::base::Duration::zero()) {
      std::fprintf(stderr, "spindle-lb: %s must be more than 0\n", name);
      return spindle::cmd::kExitUsage;
    }
  }
  auto p = spindle::lb::parse_policy(policy);
  if (!p) {
    std::fprintf(stderr, "spindle-lb: --policy: %s\n", p.error().c_str());
    return spindle::cmd::kExitUsage;
  }
  c.policy = *p;
  c.access_log_format = *spindle::lb::parse_access_log_format(access_log_format);
  c.debug_listen_required = debug_opt->count() > 0;

  // Before any thread exists (base/fd_limit.h).
  const spindle::base::FdLimit fds = spindle::base::raise_fd_limit();

  // Block the shutdown signals before any thread exists, so that every thread inherits the
  // mask and only the signalfd of net::wait_for_signal receives them.
  spindle::net::block_signals({SIGTERM, SIGINT, SIGHUP});
  signal(SIGPIPE, SIG_IGN);
  // After the signal mask: its writer thread must not take SIGTERM either.
  log::start({.program = "spindle-lb",
              .level = *log::parse_level(log_level),
              .format = *log::parse_format(log_format)});

  int status = 0;
  {
    spindle::runtime::Options ro;
    ro.procs = procs;
    spindle::runtime::Runtime rt(ro);
    rt.run([&] {
      spindle::lb::Balancer lb(c);
      if (auto r = lb.start(); !r) {
        log::error("{}", r.error());
        status = 1;
        return;
      }
      log::info("{}; client connections at most {}{}", fds.describe(), lb.max_connections(),
                c.max_connections != 0 ? "" : " (the default from it; --max-connections)");
      auto admin = lb.admin_address();
      std::printf("spindle-lb: listening on %s (policy %s, admin %s, debug %s)\n",
                  lb.address().to_string().c_str(), spindle::lb::to_string(c.policy),
                  admin ? admin->to_string().c_str() : "on the client listener",
                  lb.debug_address().c_str());
      std::fflush(stdout);
      spindle::runtime::WaitGroup signals;
      signals.add(1);
      spindle::runtime::go([&] {
        for (;;) {
          auto sig = spindle::net::wait_for_signal({SIGTERM, SIGINT, SIGHUP});
          if (sig && *sig == SIGHUP) {  // logrotate moved the access log
            lb.reopen_logs();
            continue;
          }
          if (sig) {
            log::info("got {}", strsignal(*sig));
            lb.stop();
          } else {
            log::error("cannot wait for signals: {}", sig.error());
          }
          break;
        }
        signals.done();
      });
      lb.serve();
      log::info("stopped");
      signals.wait();
    });
  }
  log::stop();
  return status;
}
