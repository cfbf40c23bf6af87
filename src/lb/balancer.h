// Balancer: spindle-lb assembled — the registry and its sweeper, the picker, admission, the
// upstream Client, the proxy and the admin API on one http::Server (or the API on its own,
// --admin-listen), and the debug listener.
// cmd/spindle-lb/main.cc fills a Config from flags and calls run(). Design: docs/lb.md.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "debug/debug_server.h"
#include "debug/histogram.h"
#include "http/client.h"
#include "http/server.h"
#include "lb/access_log.h"
#include "lb/admin.h"
#include "lb/admission.h"
#include "lb/picker.h"
#include "lb/proxy.h"
#include "lb/registry.h"
#include "runtime/channel.h"

namespace spindle::lb {

struct Config {
  std::string listen = "0.0.0.0:8080";
  std::string admin_listen;                     // "": the API shares --listen
  std::string debug_listen = "127.0.0.1:6060";  // "off": none
  bool debug_listen_required = false;           // given explicitly: failing to bind it is fatal
  Policy policy = Policy::kRoundRobin;
  std::vector<std::string> backends;  // static, never expire
  std::string register_token;
  bool insecure_open_registration = false;
  base::Duration heartbeat_timeout = std::chrono::seconds(3);
  std::size_t max_idle_per_backend = 100;
  std::size_t max_conns_per_backend = 0;  // 0: unlimited
  base::Duration connect_timeout = std::chrono::seconds(1);
  base::Duration response_header_timeout = std::chrono::seconds(30);
  base::Duration idle_timeout = std::chrono::seconds(30);
  std::int64_t max_in_flight = 1024;         // the ceiling when adaptive
  bool adaptive_in_flight = false;           // --max-in-flight auto
  std::uint64_t max_body_size = 0;           // request body bytes; more get 413. 0: unlimited
  std::uint64_t request_buffer = 64 * 1024;  // body bytes read before a backend is picked
  base::Duration body_timeout = std::chrono::seconds(20);  // whole body, plus:
  std::uint64_t body_min_rate = 1024;  // bytes per second that extend body_timeout
  base::Duration queue_timeout = std::chrono::milliseconds(100);
  std::size_t max_backends = 1024;
  // Client connections served at once (more get 503 and are closed). 0: derived from the
  // open-file limit at start (default_max_connections).
  std::size_t max_connections = 0;
  base::Duration shutdown_grace = std::chrono::seconds(10);
  double panic_share = 0.5;
  std::uint32_t eject_after = 5;
  std::string access_log = "off";  // a path, "-" (stdout) or "off"
  AccessLogFormat access_log_format = AccessLogFormat::kJson;
};

// Whether a listen address is reachable only from this host (loopback or a Unix socket).
bool loopback_only(const net::Address& a);

// --max-connections' default: the open-file limit less an upstream connection for every
// request in flight (--max-in-flight; 1024 when unlimited) and 64 for listeners, the poller
// and the like; at least half the limit (the rest is what EMFILE back-off is for).
std::size_t default_max_connections(std::uint64_t fd_limit, std::int64_t max_in_flight);

class Balancer {
 public:
  explicit Balancer(Config config);
  ~Balancer();

  // Binds the listeners and checks the configuration; the error is for main() to print.
  // From a goroutine.
  base::Result<void, std::string> start();
  const net::Address& address() const { return listener_.address(); }
  std::string debug_address() const;
  // The client connection limit in force (after start()).
  std::size_t max_connections() const { return max_connections_; }
  // The API's own listener, if --admin-listen gave one.
  std::optional<net::Address> admin_address() const;
  // Serves until stop(); then drains within the grace period. Parks.
  void serve();
  // Starts the graceful shutdown (any goroutine; idempotent).
  void stop();
  // Reopens the access log's file (SIGHUP, after logrotate moved it). Any thread.
  void reopen_logs();

  Registry& registry() { return *registry_; }
  Proxy& proxy() { return *proxy_; }
  http::Client& client() { return client_; }

 private:
  void handle(http::Request& req, http::ResponseWriter& w);
  void handle_admin(http::Request& req, http::ResponseWriter& w);
  void log_access(http::Request& req, const http::ResponseWriter& w, const ProxyOutcome& outcome,
                  std::int64_t unix_ns, std::int64_t total_ns);
  // The debug listener's /ready: why not ready ("draining", "no healthy backend"), or "".
  std::string not_ready() const;
  void write_metrics(debug::MetricsText& m) const;
  void write_backend_metrics(debug::MetricsText& m) const;  // the families labelled by backend
  void sweep_loop(runtime::Chan<bool> done);

  const Config config_;
  http::Client client_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<Picker> picker_;
  std::unique_ptr<Admission> admission_;
  std::unique_ptr<Proxy> proxy_;
  std::unique_ptr<Admin> admin_;
  net::Listener listener_;
  net::Listener admin_listener_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Server> admin_server_;  // with --admin-listen
  std::unique_ptr<debug::DebugServer> debug_;
  std::unique_ptr<AccessLog> access_log_;  // --access-log; null when off
  debug::Histogram request_seconds_{debug::Histogram::latency_bounds()};
  std::size_t max_connections_ = 0;
  runtime::Chan<bool> stop_ = runtime::make_chan<bool>(1);
  std::atomic<bool> stopping_{false};
};

}  // namespace spindle::lb
