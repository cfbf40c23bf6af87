#include "lb/balancer.h"

#include <algorithm>
#include <cstdio>

#include "base/fd_limit.h"
#include "base/log.h"
#include "lb/backend_url.h"
#include "lb/request_path.h"
#include "runtime/runtime.h"
#include "runtime/select.h"
#include "runtime/sync/wait_group.h"
#include "runtime/time.h"

namespace spindle::lb {

namespace {

http::ClientOptions client_options(const Config& c) {
  http::ClientOptions o;
  o.max_idle_per_host = c.max_idle_per_backend;
  o.max_conns_per_host = c.max_conns_per_backend;
  o.dial_timeout = c.connect_timeout;
  o.response_header_timeout = c.response_header_timeout;
  o.idle_timeout = c.idle_timeout;
  o.body_read_timeout = std::chrono::seconds(60);  // inactivity, like the server's
  o.write_timeout = std::chrono::seconds(60);
  return o;
}

RegistryOptions registry_options(const Config& c) {
  RegistryOptions o;
  o.heartbeat_timeout = c.heartbeat_timeout;
  o.max_backends = c.max_backends;
  o.panic_share = c.panic_share;
  o.eject_after = c.eject_after;
  return o;
}

BodyOptions body_options(const Config& c) {
  BodyOptions o;
  o.buffer = c.request_buffer;
  o.timeout = c.body_timeout;
  o.min_rate = c.body_min_rate;
  o.max_size = c.max_body_size;
  return o;
}

std::unique_ptr<Admission> make_admission(const Config& c) {
  if (!c.adaptive_in_flight) return std::make_unique<Admission>(c.max_in_flight, c.queue_timeout);
  AdaptivePolicy p;
  p.max_limit = c.max_in_flight > 0 ? c.max_in_flight : p.max_limit;
  p.min_limit = std::min(p.min_limit, p.max_limit);
  return std::make_unique<Admission>(p, c.queue_timeout);
}

// spindle_lb_responses_total{method, code}. The "other" status class (a backend's status of
// 600 or more) is written only once it happened.
void write_responses(debug::MetricsText& m, const ResponseCounts::Snapshot& counts) {
  m.family("spindle_lb_responses_total", debug::MetricType::kCounter,
           "Answers to proxied requests (the backends' and the balancer's own), by method and "
           "status class.");
  for (std::size_t method = 0; method < counts.size(); ++method) {
    for (std::size_t code = 0; code < kStatusClasses.size(); ++code) {
      const std::uint64_t n = counts[method][code];
      if (code == kOtherStatus && n == 0) continue;
      m.sample(static_cast<double>(n),
               {{"method", kMethodClasses[method]}, {"code", kStatusClasses[code]}});
    }
  }
}

// One family per field of a stats snapshot that each backend has (BackendStatus::*member),
// named prefix + the field's name, with one sample per backend.
template <class Snapshot>
void write_backend_stats(debug::MetricsText& m, std::string_view prefix,
                         const std::vector<BackendStatus>& rows, Snapshot BackendStatus::*member) {
  std::vector<std::vector<double>> values(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    base::for_each_metric(rows[i].*member,
                          [&](const base::Metric& x) { values[i].push_back(x.value); });
  }
  std::size_t field = 0;
  std::string name;
  base::for_each_metric(Snapshot{}, [&](const base::Metric& x) {
    name.assign(prefix).append(x.name);
    m.family(name,
             x.kind == base::MetricKind::kCounter ? debug::MetricType::kCounter
                                                  : debug::MetricType::kGauge,
             x.help);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      m.sample(values[i][field], {{"backend", rows[i].name}, {"url", rows[i].url}});
    }
    ++field;
  });
}

// Calls fn every period until done is closed. From a goroutine.
template <typename F>
void every(base::Duration period, runtime::Chan<bool>& done, F fn) {
  runtime::Ticker ticker(period);
  for (;;) {
    runtime::Select s;
    std::optional<base::TimePoint> tick;
    std::optional<bool> quit;
    int t = s.recv(ticker.c(), &tick);
    s.recv(done, &quit);
    if (s.wait() != t) return;
    fn();
  }
}

}  // namespace

std::size_t default_max_connections(std::uint64_t fd_limit, std::int64_t max_in_flight) {
  const std::uint64_t upstream =
      max_in_flight > 0 ? static_cast<std::uint64_t>(max_in_flight) : 1024;
  const std::uint64_t reserve = upstream + 64;
  const std::uint64_t n = fd_limit > 2 * reserve ? fd_limit - reserve : fd_limit / 2;
  return static_cast<std::size_t>(std::max<std::uint64_t>(n, 1));
}

bool loopback_only(const net::Address& a) {
  return a.family() == net::Family::kUnix || a.is_loopback();
}

Balancer::Balancer(Config config)
    : config_(std::move(config)),
      client_(client_options(config_)),
      registry_(std::make_unique<Registry>(
          registry_options(config_),
          [this](const std::string& address) -> http::HostPool& { return client_.pool(address); })),
      picker_(make_picker(config_.policy)),
      admission_(make_admission(config_)),
      proxy_(std::make_unique<Proxy>(*registry_, *picker_, *admission_, body_options(config_))) {}

Balancer::~Balancer() = default;

base::Result<void, std::string> Balancer::start() {
  auto addr = net::parse_address(config_.listen);
  if (!addr) return "--listen " + config_.listen + ": " + addr.error().message();
  const bool own_admin = !config_.admin_listen.empty();
  const std::string& api_flag = own_admin ? config_.admin_listen : config_.listen;
  auto api_addr = own_admin ? net::parse_address(config_.admin_listen) : addr;
  if (!api_addr) return "--admin-listen " + api_flag + ": " + api_addr.error().message();
  if (config_.register_token.empty() && !loopback_only(*api_addr) &&
      !config_.insecure_open_registration) {
    return std::string(
               "refusing to start: the registration API (/_lb/register) would be "
               "reachable on ") +
           (own_admin ? "--admin-listen " : "--listen ") + api_flag +
           " without a token, so anyone who can reach it could add backends and receive your "
           "traffic. Set --register-token (or SPINDLE_REGISTER_TOKEN), serve the API on a "
           "loopback address, or pass --insecure-open-registration.";
  }
  auto l = net::listen(*addr);
  if (!l) return "--listen " + config_.listen + ": " + l.error().message();
  listener_ = std::move(*l);
  if (own_admin) {
    auto a = net::listen(*api_addr);
    if (!a) return "--admin-listen " + api_flag + ": " + a.error().message();
    admin_listener_ = std::move(*a);
  }
  debug_ = std::make_unique<debug::DebugServer>(
      debug::DebugOptions{.program = "spindle-lb",
                          .metrics = [this](debug::MetricsText& m) { write_metrics(m); },
                          .not_ready = [this] { return not_ready(); }});
  if (auto d = debug_->listen(config_.debug_listen, config_.debug_listen_required); !d) {
    return d.error();
  }
  if (config_.access_log != "off") {
    auto a = AccessLog::open({.path = config_.access_log, .format = config_.access_log_format});
    if (!a) return a.error();
    access_log_ = std::move(*a);
  }
  AdminOptions ao;
  ao.token = config_.register_token;
  ao.self = listener_.address();
  ao.heartbeat_interval = heartbeat_interval(config_.heartbeat_timeout);
  admin_ = std::make_unique<Admin>(*registry_, ao);
  const auto local = local_addresses();
  for (const std::string& text : config_.backends) {
    auto u = parse_backend_url(text);
    if (!u) return "--backend " + text + ": " + u.error();
    auto targets = net::resolve(u->host, u->port);
    if (!targets) return "--backend " + text + ": " + targets.error().message();
    if (points_at(*targets, listener_.address(), local)) {
      return "--backend " + text + ": points at this load balancer (a loop)";
    }
    if (registry_->add(*u, "", 1, true, base::Clock::now()) == RegisterOutcome::kFull) {
      return "--backend " + text + ": more backends than --max-backends";
    }
  }
  http::ServerOptions so;
  max_connections_ = config_.max_connections != 0
                         ? config_.max_connections
                         : default_max_connections(base::fd_limit(), config_.max_in_flight);
  so.max_connections = max_connections_;
  so.idle_timeout = std::max<base::Duration>(config_.idle_timeout, std::chrono::seconds(5));
  server_ = std::make_unique<http::Server>(
      [this](http::Request& req, http::ResponseWriter& w) { handle(req, w); }, so);
  if (admin_listener_.valid()) {
    admin_server_ = std::make_unique<http::Server>(
        [this](http::Request& req, http::ResponseWriter& w) { handle_admin(req, w); });
  }
  return {};
}

std::string Balancer::debug_address() const { return debug_ ? debug_->address() : "off"; }

std::optional<net::Address> Balancer::admin_address() const {
  if (!admin_listener_.valid()) return std::nullopt;
  return admin_listener_.address();
}

// API or proxy is decided once, on the normalised path (request_path.h): every spelling of
// an API path reaches the API. With --admin-listen this listener reserves no path.
void Balancer::handle(http::Request& req, http::ResponseWriter& w) {
  if (!admin_server_) {
    std::string scratch;
    const std::string_view path = normalized_path(req.target(), &scratch);
    if (in_api_namespace(path)) {
      admin_->serve(req, w, path);
      return;
    }
  }
  const std::int64_t unix_ns = access_log_
                                   ? std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count()
                                   : 0;
  const auto start = base::Clock::now();
  ProxyOutcome outcome;
  proxy_->serve(req, w, outcome);
  const std::int64_t total_ns = base::to_ns(base::Clock::now()) - base::to_ns(start);
  request_seconds_.observe_ns(total_ns);
  if (outcome.backend != nullptr) outcome.backend->request_seconds.observe_ns(total_ns);
  if (access_log_) log_access(req, w, outcome, unix_ns, total_ns);
}

void Balancer::log_access(http::Request& req, const http::ResponseWriter& w,
                          const ProxyOutcome& outcome, std::int64_t unix_ns,
                          std::int64_t total_ns) {
  const http::HeaderList& fields = req.headers();
  auto field = [&](std::string_view name) {
    const http::Header* h = fields.find(name);
    return h != nullptr ? h->value : std::string_view();
  };
  const std::string client = req.remote_address().to_string();
  const Backend* b = outcome.backend;
  AccessRecord r{.unix_ns = unix_ns,
                 .client = client,
                 .method = req.method_token(),
                 .target = req.target(),
                 .version_minor = req.version().minor,
                 // Nothing answered: the client left first (nginx's 499).
                 .status = w.header_written() ? w.status() : 499,
                 .bytes_in = req.body().bytes_read(),
                 .bytes_out = w.body_bytes(),
                 .backend = b != nullptr ? std::string_view(b->name) : std::string_view(),
                 .backend_url = b != nullptr ? std::string_view(b->url.url) : std::string_view(),
                 .upstream_ns = outcome.upstream_ns,
                 .total_ns = total_ns,
                 .retries = outcome.retries,
                 .failovers = outcome.failovers,
                 .request_id = outcome.request_id,
                 .referer = field("Referer"),
                 .user_agent = field("User-Agent")};
  access_log_->append(format_access_line(access_log_->format(), r));
}

void Balancer::reopen_logs() {
  if (access_log_) access_log_->reopen();
}

void Balancer::handle_admin(http::Request& req, http::ResponseWriter& w) {
  if (debug_->handler().serve_health(req, w)) return;
  std::string scratch;
  admin_->serve(req, w, normalized_path(req.target(), &scratch));
}

void Balancer::sweep_loop(runtime::Chan<bool> done) {
  auto period = std::clamp<base::Duration>(
      config_.heartbeat_timeout / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(250));
  every(period, done, [this] { registry_->sweep(base::Clock::now()); });
}

void Balancer::serve() {
  runtime::WaitGroup wg;
  runtime::Chan<bool> sweeper_done = runtime::make_chan<bool>(0);
  wg.add(3);
  runtime::go([&] {
    auto r = server_->serve(listener_);
    if (!r) base::log::error("serve: {}", r.error().message());
    wg.done();
  });
  runtime::go([&] {
    sweep_loop(sweeper_done);
    wg.done();
  });
  runtime::go([&] {
    if (admission_->adaptive()) {
      every(std::chrono::milliseconds(100), sweeper_done, [this] { admission_->control_step(); });
    }
    wg.done();
  });
  if (admin_server_) {
    wg.add(1);
    runtime::go([&] {
      auto r = admin_server_->serve(admin_listener_);
      if (!r) base::log::error("admin: {}", r.error().message());
      wg.done();
    });
  }
  debug_->start();
  (void)stop_.recv();
  base::log::info("shutting down: draining in-flight requests (grace {})",
                  base::format_duration(config_.shutdown_grace));
  server_->shutdown(config_.shutdown_grace);
  if (admin_server_) admin_server_->shutdown(std::chrono::seconds(1));
  debug_->shutdown();
  sweeper_done.close();
  wg.wait();
}

void Balancer::stop() {
  if (!stopping_.exchange(true)) (void)stop_.try_send(true);
}

std::string Balancer::not_ready() const {
  if (stopping_.load()) return "draining";
  for (const auto& b : registry_->snapshot()->backends) {
    if (!b->ejected()) return "";
  }
  return "no healthy backend";
}

void Balancer::write_metrics(debug::MetricsText& m) const {
  using debug::MetricType;
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    m.counter(name, help, static_cast<double>(v));
  };
  auto gauge = [&](const char* name, const char* help, double v) { m.gauge(name, help, v); };
  debug::write_stats(m, "spindle_lb_", proxy_->stats());
  gauge("spindle_lb_in_flight", "Requests admitted and not yet answered.",
        static_cast<double>(admission_->in_flight()));
  gauge("spindle_lb_in_flight_limit", "Requests admitted at once, at most (now).",
        static_cast<double>(admission_->limit()));
  counter("spindle_lb_queued_total", "Requests that waited for admission.", admission_->queued());
  if (const AdaptiveLimit* a = admission_->adaptive()) {
    counter("spindle_lb_in_flight_limit_cuts_total", "Times the adaptive limit was cut.",
            a->cuts());
    gauge("spindle_lb_upstream_latency_floor_seconds",
          "The adaptive limit's estimate of the backends' unloaded latency.",
          static_cast<double>(a->floor_ns()) / 1e9);
  }
  debug::write_stats(m, "spindle_lb_client_", server_->stats());
  gauge("spindle_lb_max_connections", "Client connections served at once, at most.",
        static_cast<double>(max_connections_));
  gauge("spindle_lb_backends", "Backends known (registered or static).",
        static_cast<double>(registry_->size()));
  gauge("spindle_lb_panic", "1 while the panic threshold keeps backends that would expire.",
        registry_->in_panic() ? 1 : 0);
  counter("spindle_lb_panic_sweeps_total", "Sweeps that ran under the panic threshold.",
          registry_->panic_sweeps());
  counter("spindle_lb_ejections_total", "Backends ejected as outliers.", registry_->ejections());
  debug::write_stats(m, "spindle_lb_", registry_->stats());
  write_responses(m, proxy_->responses());
  // Upstream connections of every backend's pool, also of backends since removed.
  debug::write_stats(m, "spindle_lb_upstream_", client_.stats());
  if (access_log_) {
    counter("spindle_lb_access_log_dropped_total",
            "Access log lines dropped: the output was slower than the requests.",
            access_log_->dropped());
  }
  m.family("spindle_lb_request_duration_seconds", MetricType::kHistogram,
           "Proxied requests from the head read to the response written (any status).");
  m.histogram(request_seconds_.snapshot().sample());
  write_backend_metrics(m);
}

// Per backend, labelled by name and URL.
void Balancer::write_backend_metrics(debug::MetricsText& m) const {
  using debug::MetricType;
  const std::vector<BackendStatus> rows = registry_->status(base::Clock::now());
  auto per_backend = [&](const char* name, MetricType type, const char* help, auto value) {
    m.family(name, type, help);
    for (const BackendStatus& b : rows) {
      m.sample(static_cast<double>(value(b)), {{"backend", b.name}, {"url", b.url}});
    }
  };
  per_backend("spindle_lb_backend_healthy", MetricType::kGauge,
              "1 if the backend takes traffic (heartbeating or static, not ejected).",
              [](const BackendStatus& b) { return b.healthy && !b.ejected ? 1 : 0; });
  per_backend("spindle_lb_backend_ejected", MetricType::kGauge,
              "1 while the backend is ejected as an outlier.",
              [](const BackendStatus& b) { return b.ejected ? 1 : 0; });
  per_backend("spindle_lb_backend_in_flight", MetricType::kGauge,
              "Requests in flight to the backend.",
              [](const BackendStatus& b) { return b.in_flight; });
  per_backend("spindle_lb_backend_requests_total", MetricType::kCounter,
              "Requests the backend answered.", [](const BackendStatus& b) { return b.requests; });
  per_backend("spindle_lb_backend_failures_total", MetricType::kCounter,
              "Exchanges with the backend that failed (connect, reset, timeout, bad answer).",
              [](const BackendStatus& b) { return b.failures; });
  m.family("spindle_lb_backend_responses_total", MetricType::kCounter,
           "Responses of the backend passed on to clients, by status class.");
  for (const BackendStatus& b : rows) {
    for (std::size_t code = 0; code < kStatusClasses.size(); ++code) {
      if (code == kOtherStatus && b.responses[code] == 0) continue;
      m.sample(static_cast<double>(b.responses[code]),
               {{"backend", b.name}, {"url", b.url}, {"code", kStatusClasses[code]}});
    }
  }
  write_backend_stats(m, "spindle_lb_backend_", rows, &BackendStatus::pool);
  auto per_backend_histogram = [&](const char* name, const char* help, auto member) {
    m.family(name, MetricType::kHistogram, help);
    for (const BackendStatus& b : rows) {
      const debug::Label labels[] = {{"backend", b.name}, {"url", b.url}};
      m.histogram((b.*member).sample(), labels);
    }
  };
  per_backend_histogram("spindle_lb_backend_upstream_duration_seconds",
                        "Answered attempts on the backend, from sending the request to the "
                        "response head.",
                        &BackendStatus::upstream_seconds);
  per_backend_histogram("spindle_lb_backend_request_duration_seconds",
                        "Proxied requests whose last backend this was, from the head read to "
                        "the end of the answer (any status).",
                        &BackendStatus::request_seconds);
}

}  // namespace spindle::lb
