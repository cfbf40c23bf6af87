#include "lb/registry.h"

#include <algorithm>
#include <cstdio>

namespace spindle::lb {

namespace {

std::int64_t ns(runtime::Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

}  // namespace

Registry::Registry(RegistryOptions options, PoolFor pool_for)
    : options_(options), pool_for_(std::move(pool_for)) {}

RegisterOutcome Registry::add(const BackendUrl& url, std::string name, std::optional<int> weight,
                              bool is_static, runtime::TimePoint now) {
  runtime::MutexLock lock(mu_);
  auto it = backends_.find(url.url);
  if (it != backends_.end()) {
    Backend& old = *it->second;
    old.last_heartbeat_ns.store(to_ns(now), std::memory_order_relaxed);
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
    std::fprintf(stderr, "spindle-lb: backend %s updated (%s, weight %d)\n", url.url.c_str(),
                 b->name.c_str(), b->weight);
    it->second = std::move(b);
    publish();
    return RegisterOutcome::kUpdated;
  }
  if (backends_.size() >= options_.max_backends) return RegisterOutcome::kFull;
  if (name.empty()) name = url.address;
  auto b =
      std::make_shared<Backend>(url, std::move(name), std::clamp(weight.value_or(1), 1, kMaxWeight),
                                is_static, &pool_for_(url.address));
  b->last_heartbeat_ns.store(to_ns(now), std::memory_order_relaxed);
  std::fprintf(stderr, "spindle-lb: backend %s added (%s%s)\n", url.url.c_str(), b->name.c_str(),
               is_static ? ", static" : "");
  backends_.emplace(url.url, std::move(b));
  publish();
  return RegisterOutcome::kAdded;
}

bool Registry::heartbeat(const std::string& url, runtime::TimePoint now) {
  runtime::MutexLock lock(mu_);
  auto it = backends_.find(url);
  if (it == backends_.end()) return false;
  it->second->last_heartbeat_ns.store(to_ns(now), std::memory_order_relaxed);
  return true;
}

Registry::RemoveOutcome Registry::remove(const std::string& url) {
  runtime::MutexLock lock(mu_);
  auto it = backends_.find(url);
  if (it == backends_.end()) return RemoveOutcome::kUnknown;
  if (it->second->is_static) return RemoveOutcome::kStatic;
  backends_.erase(it);
  publish();
  std::fprintf(stderr, "spindle-lb: backend %s deregistered\n", url.c_str());
  return RemoveOutcome::kRemoved;
}

SweepResult Registry::sweep(runtime::TimePoint now) {
  SweepResult out;
  runtime::MutexLock lock(mu_);
  const std::int64_t now_ns = to_ns(now);
  std::vector<std::string> silent;
  std::size_t dynamic = 0;
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
    ++dynamic;
    if (now_ns - b->last_heartbeat_ns.load(std::memory_order_relaxed) >
        ns(options_.heartbeat_timeout)) {
      silent.push_back(url);
    }
  }
  const bool panic =
      silent.size() >= 2 && static_cast<double>(silent.size()) > options_.panic_share * dynamic;
  if (panic) {
    out.kept = silent.size();
    panic_sweeps_.fetch_add(1, std::memory_order_relaxed);
    if (!in_panic_.exchange(true)) {
      std::fprintf(stderr,
                   "spindle-lb: panic threshold: %zu of %zu backends missed their heartbeats at "
                   "once; keeping them in rotation (the balancer's network is the likelier "
                   "fault)\n",
                   silent.size(), dynamic);
    }
  } else {
    if (in_panic_.exchange(false)) {
      std::fprintf(stderr, "spindle-lb: panic threshold: left panic mode\n");
    }
    for (const std::string& url : silent) {
      std::fprintf(stderr, "spindle-lb: backend %s expired (no heartbeat)\n", url.c_str());
      backends_.erase(url);
      ++out.expired;
      changed = true;
    }
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

void Registry::record_failure(Backend& b, runtime::TimePoint now) {
  b.failures.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t run = b.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (run < options_.eject_after || b.ejected()) return;
  runtime::MutexLock lock(mu_);
  if (eject_locked(b, now)) publish();
}

bool Registry::eject_locked(Backend& b, runtime::TimePoint now) {
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
  backoff = std::min<runtime::Clock::duration>(backoff, options_.eject_max);
  b.ejected_until_ns.store(to_ns(now + backoff), std::memory_order_relaxed);
  ejections_.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "spindle-lb: backend %s ejected for %lld ms after %u consecutive failures\n",
               b.url.url.c_str(),
               static_cast<long long>(
                   std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count()),
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

std::vector<BackendStatus> Registry::status(runtime::TimePoint now) const {
  std::vector<BackendStatus> out;
  auto snap = holder_.load();
  runtime::MutexLock lock(mu_);
  const std::int64_t now_ns = to_ns(now);
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
    out.push_back(std::move(s));
  }
  return out;
}

std::size_t Registry::size() const {
  runtime::MutexLock lock(mu_);
  return backends_.size();
}

}  // namespace spindle::lb
