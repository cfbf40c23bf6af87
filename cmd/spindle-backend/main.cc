// spindle-backend: the downstream service behind spindle-lb (docs/lb-reference.md). Serves
// "hello from NAME" (routes in service.h), registers with the LB given by --lb and heartbeats
// (registration.h), and on SIGTERM/SIGINT deregisters, drains in-flight requests and exits 0.
// Prints the bound address as the first line of stdout. Flags and wiring only.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/fd_limit.h"
#include "base/log.h"
#include "base/time.h"
#include "base/version.h"
#include "common/flags.h"
#include "debug/debug_server.h"
#include "http/server.h"
#include "lb/backend_url.h"
#include "net/listener.h"
#include "net/signals.h"
#include "registration.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "service.h"

namespace {

using namespace spindle;

struct Flags {
  std::string listen = "127.0.0.1:0";
  std::string debug_listen;
  bool debug_listen_required = false;
  std::string lb, advertise, name, token;
  base::Duration delay{}, cpu_work{}, drain_timeout = std::chrono::seconds(30);
  std::uint64_t body_bytes = 0;
  double fail_ratio = 0;
  int procs = 0;
  std::string log_level = "info", log_format = "text";
};

// Returns the --debug-listen option (whether it was given decides if failing to bind is fatal).
CLI::Option* add_flags(CLI::App& app, Flags& f) {
  app.add_option("--listen", f.listen, "address to serve on; the bound one is printed")
      ->capture_default_str();
  auto* debug_listen = cmd::add_debug_listen(app, &f.debug_listen);
  app.add_option("--lb", f.lb, "balancer to register with: http://HOST:PORT");
  app.add_option("--advertise", f.advertise, "URL the LB proxies to (default http://BOUND_ADDR)");
  app.add_option("--name", f.name, "name in answers and registration (default backend-PORT)");
  app.add_option("--register-token", f.token, "bearer token for /_lb/ calls")
      ->envname("SPINDLE_REGISTER_TOKEN");
  cmd::add_duration(app, "--delay", &f.delay, "sleep before answering (250ms, 3s, 1m)");
  cmd::add_duration(app, "--cpu-work", &f.cpu_work, "busy loop before answering");
  app.add_option("--body-bytes", f.body_bytes, "body size of GET / (0: the hello text)")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40));
  app.add_option("--fail-ratio", f.fail_ratio, "share of requests answered 500")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd::add_duration(app, "--drain-timeout", &f.drain_timeout,
                    "longest wait for in-flight requests at exit");
  app.add_option("--procs", f.procs, "processors (0: SPINDLE_MAXPROCS or the CPUs)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  cmd::add_log_flags(app, &f.log_level, &f.log_format);
  app.set_version_flag("--version", base::version_line("spindle-backend"));
  return debug_listen;
}

// Serves until SIGTERM/SIGINT, then deregisters and drains. Runs as the main goroutine.
int serve(const Flags& f, backend::ServiceOptions service_options) {
  auto l = net::listen(f.listen);
  if (!l) {
    base::log::error("listen {}: {}", f.listen, l.error().message());
    return 1;
  }
  std::atomic<bool> draining{false};
  debug::DebugServer debug({.program = "spindle-backend", .metrics = {}, .not_ready = [&] {
                              return draining ? "draining" : "";
                            }});
  if (auto d = debug.listen(f.debug_listen, f.debug_listen_required); !d) {
    base::log::error("{}", d.error());
    return 1;
  }
  const net::Address bound = l->address();
  std::printf("%s\n", bound.to_string().c_str());
  std::fflush(stdout);
  if (service_options.name.empty())
    service_options.name = "backend-" + std::to_string(bound.port());
  std::string advertise = f.advertise;
  if (advertise.empty()) {
    std::string host = bound.to_string();
    if (host.starts_with("0.0.0.0:")) host = "127.0.0.1:" + std::to_string(bound.port());
    advertise = "http://" + host;
  }

  backend::Service service(service_options);
  http::Server server(
      [&service](http::Request& req, http::ResponseWriter& w) { service.handle(req, w); });
  service.set_server(&server);
  auto served = runtime::make_chan<int>(1);
  runtime::go([&] {
    auto r = server.serve(*l);
    if (!r) base::log::error("serve: {}", r.error().message());
    served.send(r ? 0 : 1);
  });

  debug.start();

  auto stop = runtime::make_chan<bool>();
  auto registration_done = runtime::make_chan<bool>(1);
  std::unique_ptr<backend::Registration> registration;
  if (!f.lb.empty()) {
    registration = std::make_unique<backend::Registration>(backend::RegistrationOptions{
        *backend::lb_address(f.lb), advertise, service_options.name, f.token});
    runtime::go([&] {
      registration->run(stop);
      registration_done.send(true);
    });
  }

  auto sig = net::wait_for_signal({SIGTERM, SIGINT});
  if (!sig) base::log::error("cannot wait for signals: {}", sig.error());
  base::log::info("{}: {}: deregistering and draining", service_options.name,
                  sig ? strsignal(*sig) : "error");
  draining = true;
  stop.close();
  if (registration) {
    registration_done.recv();
    registration->deregister();
  }
  server.shutdown(f.drain_timeout);
  int rc = *served.recv();
  debug.shutdown();
  base::log::info("{}: stopped", service_options.name);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spindle-backend: a backend service for spindle-lb"};
  Flags f;
  CLI::Option* debug_listen = add_flags(app, f);
  if (auto rc = spindle::cmd::parse_flags(app, argc, argv)) return *rc;
  f.debug_listen_required = debug_listen->count() > 0;

  backend::ServiceOptions service{f.name, f.delay, f.cpu_work, f.body_bytes, f.fail_ratio};
  if (!f.lb.empty()) {
    if (auto a = backend::lb_address(f.lb); !a) {
      std::fprintf(stderr, "spindle-backend: %s (got %s)\n", a.error().message.c_str(),
                   f.lb.c_str());
      return spindle::cmd::kExitUsage;
    }
  }
  if (!f.advertise.empty()) {
    if (auto u = lb::parse_backend_url(f.advertise); !u) {
      std::fprintf(stderr, "spindle-backend: --advertise %s: %s\n", f.advertise.c_str(),
                   u.error().c_str());
      return spindle::cmd::kExitUsage;
    }
  }

  // Before any thread exists, so every runtime thread inherits the mask (net/signals.h).
  const std::string fds = base::raise_fd_limit().describe();
  net::block_signals({SIGTERM, SIGINT});
  signal(SIGPIPE, SIG_IGN);
  // After the signal mask: its writer thread must not take SIGTERM either.
  base::log::start({.program = "spindle-backend",
                    .level = *base::log::parse_level(f.log_level),
                    .format = *base::log::parse_format(f.log_format)});
  base::log::info("{}", fds);
  int rc = 0;
  {
    runtime::Runtime rt(runtime::Options{.procs = f.procs});
    rt.run([&] { rc = serve(f, service); });
  }
  base::log::stop();
  return rc;
}
