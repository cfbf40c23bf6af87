// Registry: the backends the balancer knows, keyed by normalised URL, and the snapshot of the
// routable ones that requests read (snapshot.h). Registration, heartbeats and deregistration
// come from the admin API (admin.h); expiry and the end of ejections from the sweeper
// (Balancer); ejections from the proxy's outlier detection. All writers take mu_, which the
// request path never takes except to eject a failing backend. Design: docs/lb.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/stats.h"
#include "lb/backend.h"
#include "lb/snapshot.h"
#include "runtime/sync/mutex.h"

namespace spindle::lb {

using namespace std::chrono_literals;

struct RegistryOptions {
  base::Duration heartbeat_timeout = 3s;
  std::size_t max_backends = 1024;
  // Expiry panic threshold (Envoy's panic threshold, Eureka's self-preservation): when more
  // than this share of the dynamic backends that answer requests (and at least two) went
  // silent at the same moment, the balancer's own network is the likelier culprit, and those
  // that still answer are kept. "At the same moment" and "answer": the top of registry.cc.
  double panic_share = 0.5;
  // Outlier detection: this many consecutive failures eject a backend for
  // eject_base × 2^(ejections so far), at most eject_max; at most max_ejected_share of the
  // backends are ejected at once.
  std::uint32_t eject_after = 5;
  base::Duration eject_base = 5s;
  base::Duration eject_max = 300s;
  double max_ejected_share = 0.5;
};

// The heartbeat interval announced to backends: a third of the timeout (at least 10 ms).
base::Duration heartbeat_interval(base::Duration timeout);
// How long past the timeout a silent backend waits for the sweep's decision: one interval, at
// most 750 ms (so that with a sweep every 250 ms at most it goes within timeout + 1 s).
base::Duration expiry_grace(base::Duration timeout);

enum class RegisterOutcome { kAdded, kRefreshed, kUpdated, kFull };

// One row of GET /_lb/backends.
struct BackendStatus {
  std::string url, name;
  int weight = 1;
  bool is_static = false, healthy = false, ejected = false;
  std::int64_t in_flight = 0;
  std::uint64_t requests = 0, failures = 0;
  std::int64_t last_heartbeat_ms_ago = 0;
  debug::Histogram::Snapshot upstream_seconds, request_seconds;  // Backend's, for /metrics
  StatusCounts::Snapshot responses{};                            // Backend's, for /metrics
  http::PoolStats pool{};  // its upstream connections (its address' pool, kept across removal)
};

// The registry's stats (base/stats.h): live in the registry, a snapshot from stats().
template <class Cells>
struct RegistryStatsOf {
  typename Cells::Counter registrations{}, deregistrations{}, heartbeats{}, heartbeats_missed{},
      expirations{};

  template <class F, class... S>
  static constexpr void each(F&& f, S&&... s) {
    using base::MetricInfo;
    f(MetricInfo{"registrations_total", "Registrations that added a backend (a new URL)."},
      s.registrations...);
    f(MetricInfo{"deregistrations_total", "Backends removed by a deregistration."},
      s.deregistrations...);
    f(MetricInfo{"heartbeats_total",
                 "Heartbeats of known backends (a heartbeat, or a registration of a known URL)."},
      s.heartbeats...);
    f(MetricInfo{"heartbeats_missed_total",
                 "Times a registered backend stayed silent past the heartbeat timeout (once "
                 "until it heartbeats again)."},
      s.heartbeats_missed...);
    f(MetricInfo{"expirations_total", "Backends removed for missing heartbeats."},
      s.expirations...);
  }
};
using RegistryStats = RegistryStatsOf<base::SnapshotCells>;

struct SweepResult {
  std::size_t expired = 0;     // removed for missing heartbeats
  std::size_t kept = 0;        // due to expire, kept by the panic threshold
  std::size_t readmitted = 0;  // ejections that ended
};

class Registry {
 public:
  // pool_for gives the connection pool of an address (the proxy's Client owns them).
  using PoolFor = std::function<http::HostPool&(const std::string& address)>;
  Registry(RegistryOptions options, PoolFor pool_for);

  // Adds a backend, or refreshes its heartbeat if the URL is known. A known, registered (not
  // static) backend given another name (non-empty) or weight is replaced by one with the new
  // values and the old counters (kUpdated); requests in flight finish on the old one. From a
  // goroutine.
  RegisterOutcome add(const BackendUrl& url, std::string name, std::optional<int> weight,
                      bool is_static, base::TimePoint now);
  // Refreshes the heartbeat; false if the URL is unknown (the backend registers again).
  bool heartbeat(const std::string& url, base::TimePoint now);
  // Removes the backend: no new request goes there; requests in flight finish. A static
  // backend (--backend) is configuration, not registration: only a restart removes it.
  enum class RemoveOutcome { kRemoved, kUnknown, kStatic };
  RemoveOutcome remove(const std::string& url);

  // Expires backends silent for longer than the timeout and its grace (or keeps those that
  // answer, past the panic threshold) and readmits those whose ejection ended. Called by the
  // sweeper goroutine, or by tests with a chosen `now`.
  SweepResult sweep(base::TimePoint now);

  // Request path, lock-free: the current snapshot.
  std::shared_ptr<const Snapshot> snapshot() const { return holder_.load(); }
  // Outlier detection, from the request path: a success resets the failure run; a failure
  // may eject (then mu_ is taken to publish a new snapshot).
  static void record_success(Backend& b, std::uint64_t latency_ns);
  void record_failure(Backend& b, base::TimePoint now);

  std::vector<BackendStatus> status(base::TimePoint now) const;
  std::size_t size() const;
  bool in_panic() const { return in_panic_.load(std::memory_order_relaxed); }
  std::uint64_t panic_sweeps() const { return panic_sweeps_.load(std::memory_order_relaxed); }
  std::uint64_t ejections() const { return ejections_.load(std::memory_order_relaxed); }
  RegistryStats stats() const { return base::snapshot(stats_); }
  const RegistryOptions& options() const { return options_; }

 private:
  void publish() REQUIRES(mu_);  // rebuilds the snapshot from backends_
  bool eject_locked(Backend& b, base::TimePoint now) REQUIRES(mu_);

  const RegistryOptions options_;
  const PoolFor pool_for_;
  mutable runtime::Mutex mu_;
  std::map<std::string, std::shared_ptr<Backend>> backends_ GUARDED_BY(mu_);
  SnapshotHolder holder_;
  std::atomic<bool> in_panic_{false};
  std::atomic<std::uint64_t> panic_sweeps_{0};
  std::atomic<std::uint64_t> ejections_{0};
  RegistryStatsOf<base::LiveCells> stats_;
};

}  // namespace spindle::lb
