#include "loadgen/attack.h"

#include <time.h>

#include <algorithm>
#include <string>

#include "http/wire_format.h"
#include "loadgen/results.h"
#include "loadgen/schedule.h"
#include "runtime/runtime.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/semaphore.h"
#include "runtime/sync/wait_group.h"
#include "runtime/time.h"

namespace spindle::loadgen {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// The first send is this far after run() starts, so the setup does not make it late.
constexpr std::int64_t kLeadNs = 1'000'000;

// The pacer wakes at most this often; the requests falling due in between start together
// when it wakes. Below 5,000 req/s every request gets its own wake-up. Above, a wake-up per
// request costs more than the request: on this kind of VM, sleeping and waking a thread
// 40,000 times a second took a third of spindle-load's CPU. The price is send lag (up to
// this much, plus the kernel's timer slack), which every latency includes, well inside the
// 1 ms that a kept step allows.
constexpr std::int64_t kCoalesceNs = 200'000;

// A pacer that is behind starts at most this many requests before it yields, so that the
// goroutines queued meanwhile run. Starting a whole backlog at once (after a stall of the process,
// say) overflows the processor's run queue: the overflow goes to the global queue, where it waits
// until the local queue empties, and the poller keeps refilling the local queue with answers.
// With spindle-load stopped for 30 ms at 60,000 req/s on one processor (bench/load-stall), the
// latest send was 95-115 ms late at once, 32-47 ms in bursts of 64 (the bare C loop: 30.5).
constexpr int kBurst = 64;

http::ClientOptions client_options(const AttackOptions& o) {
  http::ClientOptions c;
  c.max_conns_per_host = o.connections;
  c.max_idle_per_host = o.connections == 0 ? 10000 : o.connections;
  c.dial_timeout = o.timeout;
  c.response_header_timeout = o.timeout;
  c.body_read_timeout = o.timeout;
  c.write_timeout = o.timeout;
  return c;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(base::Clock::now().time_since_epoch())
      .count();
}

// The whole process's CPU time, user and system.
std::int64_t process_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

base::TimePoint at_ns(std::int64_t ns) {
  return base::TimePoint(std::chrono::duration_cast<base::Duration>(std::chrono::nanoseconds(ns)));
}

// Runs n goroutines at once, each touching the top kStackTouched bytes of its stack, and
// returns when all have ended: their stacks stay in the runtime's cache, resident, for the
// goroutines of the first step. A goroutine that starts on a stack never used before pays
// page faults (and, for a new stack, a system call for its guard); a step that opens with a
// burst of requests pays them all at once and falls behind, and once behind, more requests are
// in flight at once, which needs still more new stacks. Measured in cold single steps at 0.8x
// wrk's peak on one processor: send lag p99 22-94 ms without this, 1.1-2.7 ms with it.
constexpr std::size_t kStackTouched = 16 * 1024;

template <std::size_t kBytes>
void touch_stack() {
  [[maybe_unused]] volatile char frame[kBytes];
  for (std::size_t at = 0; at < kBytes; at += 4096) frame[at] = 0;
}

void prepare_stacks(std::size_t n) {
  // On a stack under four times kStackTouched (SPINDLE_STACK_SIZE), only its top page.
  const bool small = runtime::current_stack_size() < 4 * kStackTouched;
  runtime::WaitGroup started, ended, release;
  release.add(1);
  for (std::size_t i = 0; i < n; ++i) {
    started.add(1);
    ended.add(1);
    runtime::go([&] {
      if (small) {
        touch_stack<4096>();
      } else {
        touch_stack<kStackTouched>();
      }
      started.done();
      release.wait();  // all alive at once: each holds its own stack
      ended.done();
    });
  }
  started.wait();
  release.done();
  ended.wait();
}

// "404 Not Found": the error of an answer outside 200..399, as vegeta names it.
std::string status_error(int status) {
  std::string s = std::to_string(status);
  std::string_view reason = http::reason_phrase(status);
  if (!reason.empty()) s += " " + std::string(reason);
  return s;
}

}  // namespace

struct Attacker::Prepared {
  const Target* target;
  http::HostPool* pool;
  http::Method method;
  std::vector<http::Header> headers;  // views into *target
};

Attacker::Attacker(AttackOptions options)
    : options_(std::move(options)), client_(client_options(options_)) {
  for (const Target& t : options_.targets) {
    auto p = std::make_unique<Prepared>();
    p->target = &t;
    p->pool = &client_.pool(t.address);
    p->method = http::method_from_token(t.method);
    for (const auto& [name, value] : t.headers) p->headers.push_back({name, value});
    if (std::find(pools_.begin(), pools_.end(), p->pool) == pools_.end()) {
      pools_.push_back(p->pool);
    }
    prepared_.push_back(std::move(p));
  }
}

Attacker::~Attacker() = default;

WarmUp Attacker::warm_up(std::size_t per_host) {
  // Dials in flight per host: enough to open a thousand loopback connections in a few
  // milliseconds, few enough not to look like a SYN flood to a remote server.
  constexpr std::size_t kDialers = 16;
  WarmUp w;
  for (http::HostPool* pool : pools_) {
    // More would be closed again on release (the pool keeps at most its idle cap).
    const std::size_t n = std::min(per_host, pool->options().max_idle_per_host);
    w.wanted += n;
    runtime::Mutex mu;
    std::vector<std::unique_ptr<http::PooledConn>> conns;
    std::string error;
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    runtime::WaitGroup wg;
    for (std::size_t d = 0; d < std::min(kDialers, n); ++d) {
      wg.add(1);
      runtime::go([&] {
        while (!failed.load(kRelaxed) && next.fetch_add(1, kRelaxed) < n) {
          auto c = pool->acquire(true);
          runtime::MutexLock lock(mu);
          if (!c) {
            if (!failed.exchange(true)) error = pool->address() + ": " + c.error().message();
            break;
          }
          conns.push_back(std::move(*c));
        }
        wg.done();
      });
    }
    wg.wait();
    w.opened += conns.size();
    if (w.error.empty()) w.error = std::move(error);
    // Released only now: a connection given back earlier would be taken again by the next
    // acquire instead of a new one being dialled.
    for (auto& c : conns) pool->release(std::move(c), true);
  }
  // As many goroutines as requests the opened connections can carry at once.
  prepare_stacks(w.opened);
  return w;
}

StepResult Attacker::run(double rate, std::chrono::nanoseconds duration, std::int64_t origin_ns) {
  ArrivalSchedule schedule(rate, duration.count());
  Recorder rec(rate, duration.count(), origin_ns, options_.connections);
  runtime::WaitGroup wg;
  const std::int64_t cpu_before = process_cpu_ns();
  const std::int64_t start = now_ns() + kLeadNs;
  sent_.store(0, kRelaxed);
  done_.store(0, kRelaxed);
  errors_.store(0, kRelaxed);
  offered_rate_.store(rate, kRelaxed);
  step_start_ns_.store(start, kRelaxed);
  const auto limit = static_cast<std::int64_t>(options_.connections);
  // One slot per connection the pools may open: past that, the request would only park on
  // its pool, and a backlog of parked goroutines costs a stack each.
  runtime::Semaphore slots(limit > 0 ? limit * static_cast<std::int64_t>(pools_.size()) : 1);
  std::int64_t woke = 0;
  int burst = 0;  // requests started since the pacer last let others run
  for (std::uint64_t i = 0; i < schedule.count(); ++i) {
    const std::int64_t due = start + schedule.offset_ns(i);
    // A stop() during the sleep is seen when it ends (at most a period or kCoalesceNs late),
    // during a wait for a slot when a request ends (each is bounded by the timeout). The pacer
    // wakes ahead of the queued request goroutines (Wake::kFirst): behind them, its sends
    // would start as late as the run queue is long.
    if (due > now_ns()) {
      runtime::sleep_until(at_ns(std::max(due, woke + kCoalesceNs)), runtime::Wake::kFirst);
      woke = now_ns();
      burst = 0;
    } else if (++burst > kBurst) {
      // To the global run queue: the pacer runs again when its processor's local queue has
      // drained (or at the scheduler's fairness tick), after the requests it just started.
      runtime::yield();
      burst = 1;
    }
    bool waited = false;
    if (limit > 0 && !slots.try_acquire()) {
      waited = true;
      slots.acquire();
    }
    if (stopped_.load(kRelaxed)) {
      if (limit > 0) slots.release();
      rec.stop();
      break;
    }
    const Prepared& p = *prepared_[i % prepared_.size()];
    // In flight across all hosts: exact for one host, an upper bound for several.
    waited |= in_flight_.fetch_add(1, kRelaxed) >= limit && limit > 0;
    wg.add(1);
    runtime::go([this, &p, due, waited, &rec, &wg, &slots, limit] {
      send_one(p, due, waited, rec);
      in_flight_.fetch_sub(1, kRelaxed);
      if (limit > 0) slots.release();
      wg.done();
    });
  }
  wg.wait();
  StepResult r = rec.result();
  r.cpu_ns = process_cpu_ns() - cpu_before;
  return r;
}

void Attacker::send_one(const Prepared& p, std::int64_t scheduled_ns, bool waited, Recorder& rec) {
  Outcome o;
  o.scheduled_ns = scheduled_ns;
  o.sent_ns = now_ns();
  o.waited_for_connection = waited;
  sent_.fetch_add(1, kRelaxed);
  total_sent_.fetch_add(1, kRelaxed);
  const Target& t = *p.target;
  http::StringBody body(t.body);
  http::ClientRequest req;
  req.method = p.method;
  req.method_token = t.method;
  req.target = t.path;
  req.host = t.host;
  req.headers = p.headers;
  if (!t.body.empty()) {
    req.body = &body;
    req.content_length = t.body.size();
  }
  o.bytes_out = t.body.size();
  auto r = http::Client::send(*p.pool, req);
  if (!r) {
    o.error = r.error().message();
  } else {
    o.status = r->status();
    r->body().set_deadline(at_ns(o.sent_ns + options_.timeout.count()));
    for (;;) {
      auto piece = r->body().next();
      if (!piece) {
        o.error = r->body_failure(piece.error()).message();
        break;
      }
      if (piece->empty()) break;
      o.bytes_in += piece->size();
    }
    if (o.error.empty() && (o.status < 200 || o.status >= 400)) o.error = status_error(o.status);
    r->close();
  }
  o.end_ns = now_ns();
  if (!o.error.empty()) {
    errors_.fetch_add(1, kRelaxed);
    total_errors_.fetch_add(1, kRelaxed);
  }
  rec.record(o);
  if (options_.results != nullptr) options_.results->add(o, t, offered_rate_.load(kRelaxed));
  done_.fetch_add(1, kRelaxed);
}

Progress Attacker::progress() const {
  return {offered_rate_.load(kRelaxed), step_start_ns_.load(kRelaxed), sent_.load(kRelaxed),
          done_.load(kRelaxed),         errors_.load(kRelaxed),        in_flight_.load(kRelaxed)};
}

}  // namespace spindle::loadgen
