// Expiry and self-preservation
// ============================
//
// A dynamic backend heartbeats every interval (a third of --heartbeat-timeout, announced at
// registration). Missing heartbeats expire it, except when the balancer's own network is the
// likelier culprit: most backends going silent at the same moment. Two definitions make that
// test mean what it says:
//
//  - "At the same moment". Backends heartbeat on their own phases, so backends stopped by one
//    event have last heartbeats up to one interval apart, plus jitter (a loaded machine, a
//    paused process). Judging each backend the instant it passes the timeout splits such an
//    outage: the first one is a lone, expired minority. So a backend is decided about only
//    once it has been silent for the timeout plus a grace (one interval, at most 750 ms), and
//    every backend that has missed two heartbeats in a row by then (silent for more than
//    timeout - interval) counts as silent with it. Backends whose heartbeats stopped within
//    one interval plus the grace of each other are one outage; jitter up to
//    min(interval, grace) neither splits one outage nor makes a healthy backend (silent at
//    most one interval plus its lateness) count as silent.
//  - "Backends". Only backends that answer count, in the silent share and in the whole: a
//    dynamic backend that has answered at least one request and is not failing passive health
//    checks (not ejected, its latest request did not fail). Self-preservation keeps only those;
//    a silent entry that never answered or is failing requests expires whatever the others do
//    (mass registrations of unreachable URLs once kept themselves and took 88% of the traffic
//    to 502s).
//
// When more than --panic-share of the answering backends (and at least two) are silent, the
// due ones that answer are kept, logged once per episode and counted
// (spindle_lb_panic_sweeps_total); otherwise the due ones expire.
#include "lb/registry.h"

#include <algorithm>

#include "base/log.h"

namespace spindle::lb {

namespace {

std::int64_t ns(base::Duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

}  // namespace

base::Duration heartbeat_interval(base::Duration timeout) {
  return std::max<base::Duration>(timeout / 3, 10ms);
}

base::Duration expiry_grace(base::Duration timeout) {
  return std::min<base::Duration>(heartbeat_interval(timeout), 750ms);
}

Registry::Registry(RegistryOptions options, PoolFor pool_for)
    : options_(options), pool_for_(std::move(pool_for)) {}

RegisterOutcome Registry::add(const BackendUrl& url, std::string name, std::optional<int> weight,
                              bool is_static, base::TimePoint now) {
  runtime::MutexLock lock(mu_);
  auto it = backends_.find(url.url);
  if (it != backends_.end()) {
    Backend& old = *it->second;
    old.last_heartbeat_ns.store(base::to_ns(now), std::memory_order_relaxed);
    old.heartbeat_overdue = false;
    stats_.heartbeats.add();
    const bool rename = !name.empty() && name != old.name;
    const int new_weight = weight ? std::clamp(*weight, 1, kMaxWeight) : old.weight;
    if (old.is_static || (!rename && new_weight == old.weight)) return RegisterOutcome::kRefreshed;
    auto b = std::make_shared<Backend>(old.url, rename ? std::move(name) : old.name, new_weight,
                                       false, old.pool);
    auto copy = [](auto& to, const auto& from) {
      to.store(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
    };
    copy(b->requests, old.requests);
    copy(b->ewma_ns, old.ewma_ns);
    copy(b->failures, old.failures);
    copy(b->consecutive_failures, old.consecutive_failures);
    copy(b->ejections, old.ejections);
    copy(b->ejected_until_ns, old.ejected_until_ns);
    copy(b->last_heartbeat_ns, old.last_heartbeat_ns);
    b->responses.add(old.responses.snapshot());
    base::log::info("backend {} updated ({}, weight {})", url.url, b->name, b->weight);
    it->second = std::move(b);
    publish();
    return RegisterOutcome::kUpdated;
  }
  if (backends_.size() >= options_.max_backends) return RegisterOutcome::kFull;
  if (name.empty()) name = url.address;
  auto b =
      std::make_shared<Backend>(url, std::move(name), std::clamp(weight.value_or(1), 1, kMaxWeight),
                                is_static, &pool_for_(url.address));
  b->last_heartbeat_ns.store(base::to_ns(now), std::memory_order_relaxed);
  base::log::info("backend {} added ({}{})", url.url, b->name, is_static ? ", static" : "");
  if (!is_static) stats_.registrations.add();
  backends_.emplace(url.url, std::move(b));
  publish();
  return RegisterOutcome::kAdded;
}

bool Registry::heartbeat(const std::string& url, base::TimePoint now) {
  runtime::MutexLock lock(mu_);
  auto it = backends_.find(url);
  if (it == backends_.end()) return false;
  it->second->last_heartbeat_ns.store(base::to_ns(now), std::memory_order_relaxed);
  it->second->heartbeat_overdue = false;
  stats_.heartbeats.add();
  return true;
}

Registry::RemoveOutcome Registry::remove(const std::string& url) {
  runtime::MutexLock lock(mu_);
  auto it = backends_.find(url);
  if (it == backends_.end()) return RemoveOutcome::kUnknown;
  if (it->second->is_static) return RemoveOutcome::kStatic;
  backends_.erase(it);
  publish();
  stats_.deregistrations.add();
  base::log::info("backend {} deregistered", url);
  return RemoveOutcome::kRemoved;
}

SweepResult Registry::sweep(base::TimePoint now) {
  SweepResult out;
  runtime::MutexLock lock(mu_);
  const std::int64_t now_ns = base::to_ns(now);
  const auto timeout = options_.heartbeat_timeout;
  const std::int64_t overdue_ns = ns(timeout);
  const std::int64_t due_ns = ns(timeout + expiry_grace(timeout));
  const std::int64_t missed_two_ns = ns(timeout - heartbeat_interval(timeout));
  struct Due {
    std::string url;
    bool answers;
  };
  std::vector<Due> due;  // silent past the timeout and its grace: decided now
  std::size_t answering = 0, silent = 0;
  bool changed = false;
  for (auto& [url, b] : backends_) {
    std::int64_t until = b->ejected_until_ns.load(std::memory_order_relaxed);
    if (until != 0 && until <= now_ns) {
      b->ejected_until_ns.store(0, std::memory_order_relaxed);
      b->consecutive_failures.store(0, std::memory_order_relaxed);
      ++out.readmitted;
      changed = true;
    }
    if (b->is_static) continue;
    const std::int64_t age = now_ns - b->last_heartbeat_ns.load(std::memory_order_relaxed);
    if (age > overdue_ns && !b->heartbeat_overdue) {
      b->heartbeat_overdue = true;
      stats_.heartbeats_missed.add();
    }
    const bool answers = b->requests.load(std::memory_order_relaxed) > 0 &&
                         b->consecutive_failures.load(std::memory_order_relaxed) == 0 &&
                         !b->ejected();
    answering += answers ? 1 : 0;
    silent += answers && age > missed_two_ns ? 1 : 0;
    if (age > due_ns) due.push_back({url, answers});
  }
  const bool panic = silent >= 2 && static_cast<double>(silent) > options_.panic_share * answering;
  for (const Due& d : due) {
    if (panic && d.answers) {
      ++out.kept;
      continue;
    }
    base::log::warn("backend {} expired (no heartbeat{})", d.url,
                    !panic ? ""
                    : backends_[d.url]->requests.load(std::memory_order_relaxed) == 0
                        ? "; never answered a request, so not kept by the panic threshold"
                        : "; failing requests, so not kept by the panic threshold");
    backends_.erase(d.url);
    stats_.expirations.add();
    ++out.expired;
    changed = true;
  }
  if (out.kept > 0) {
    panic_sweeps_.fetch_add(1, std::memory_order_relaxed);
    if (!in_panic_.exchange(true)) {
      base::log::warn(
          "panic threshold: {} of {} backends that answer requests went silent at once; keeping "
          "them in rotation (the balancer's network is the likelier fault)",
          silent, answering);
    }
  } else if (!panic && in_panic_.exchange(false)) {
    base::log::info("panic threshold: left panic mode");
  }
  if (changed) publish();
  return out;
}

void Registry::record_success(Backend& b, std::uint64_t latency_ns) {
  b.consecutive_failures.store(0, std::memory_order_relaxed);
  // EWMA with weight 1/8 per sample; racing updates lose a sample, harmlessly.
  std::uint64_t old = b.ewma_ns.load(std::memory_order_relaxed);
  std::uint64_t next = old == 0 ? latency_ns : old - old / 8 + latency_ns / 8;
  b.ewma_ns.store(next, std::memory_order_relaxed);
}

void Registry::record_failure(Backend& b, base::TimePoint now) {
  b.failures.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t run = b.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (run < options_.eject_after || b.ejected()) return;
  runtime::MutexLock lock(mu_);
  if (eject_locked(b, now)) publish();
}

bool Registry::eject_locked(Backend& b, base::TimePoint now) {
  if (b.ejected()) return false;
  auto it = backends_.find(b.url.url);
  if (it == backends_.end() || it->second.get() != &b) return false;  // already removed
  std::size_t ejected = 0;
  for (auto& [url, other] : backends_) ejected += other->ejected() ? 1 : 0;
  if (static_cast<double>(ejected + 1) > options_.max_ejected_share * backends_.size()) {
    return false;
  }
  std::uint32_t n = b.ejections.fetch_add(1, std::memory_order_relaxed);
  auto backoff = options_.eject_base * (1LL << std::min<std::uint32_t>(n, 20));
  backoff = std::min<base::Duration>(backoff, options_.eject_max);
  b.ejected_until_ns.store(base::to_ns(now + backoff), std::memory_order_relaxed);
  ejections_.fetch_add(1, std::memory_order_relaxed);
  base::log::warn("backend {} ejected for {} after {} consecutive failures", b.url.url,
                  base::format_duration(backoff),
                  b.consecutive_failures.load(std::memory_order_relaxed));
  return true;
}

void Registry::publish() {
  auto s = std::make_shared<Snapshot>();
  std::vector<std::shared_ptr<Backend>> ejected;
  for (auto& [url, b] : backends_) (b->ejected() ? ejected : s->backends).push_back(b);
  if (s->backends.empty() && !ejected.empty()) {
    s->backends = std::move(ejected);  // all ejected: routing somewhere beats a 503
    s->panic = true;
  }
  s->build_weighted_cycle();
  holder_.store(std::move(s));
}

std::vector<BackendStatus> Registry::status(base::TimePoint now) const {
  std::vector<BackendStatus> out;
  auto snap = holder_.load();
  runtime::MutexLock lock(mu_);
  const std::int64_t now_ns = base::to_ns(now);
  for (const auto& [url, b] : backends_) {
    BackendStatus s;
    s.url = url;
    s.name = b->name;
    s.weight = b->weight;
    s.is_static = b->is_static;
    s.ejected = b->ejected();
    const Backend* self = b.get();
    s.healthy = std::any_of(snap->backends.begin(), snap->backends.end(),
                            [self](const auto& x) { return x.get() == self; });
    s.in_flight = b->in_flight.load(std::memory_order_relaxed);
    s.requests = b->requests.load(std::memory_order_relaxed);
    s.failures = b->failures.load(std::memory_order_relaxed);
    s.last_heartbeat_ms_ago =
        (now_ns - b->last_heartbeat_ns.load(std::memory_order_relaxed)) / 1000000;
    s.upstream_seconds = b->upstream_seconds.snapshot();
    s.request_seconds = b->request_seconds.snapshot();
    s.responses = b->responses.snapshot();
    s.pool = b->pool->stats();
    out.push_back(std::move(s));
  }
  return out;
}

std::size_t Registry::size() const {
  runtime::MutexLock lock(mu_);
  return backends_.size();
}

}  // namespace spindle::lb
