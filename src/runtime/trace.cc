// The execution tracer's rings and collector; the protocol is at the top of trace.h.
#include "runtime/trace.h"

#include <mutex>

#include "runtime/machine.h"
#include "runtime/race_hook.h"
#include "runtime/scheduler_internal.h"
#include "runtime/timer.h"

namespace spindle::runtime::trace {
namespace {

// One thread's events (trace.h, "The ring protocol").
struct Ring {
  std::atomic<uint64_t> written{0};  // owner: store release; collector: load acquire
  std::atomic<uint64_t> read{0};     // collector: store release; owner: load acquire
  std::atomic<uint64_t> dropped{0};  // owner: plain load + store (no RMW); collector: load
  uint64_t cached_read = 0;          // owner only: a past value of `read`
  int index = 0;                     // in Registry::rings
  std::string name;                  // under Registry::mu
  Event events[kRingSize];
};

struct Registry {
  std::mutex mu;
  std::vector<Ring*> rings;  // never freed: a thread that exits returns its ring to `free`
  std::vector<Ring*> free;
};

Registry& registry() {
  static Registry* r = new Registry;  // leaked: threads may record during static destruction
  return *r;
}

std::atomic<bool> session_running{false};

struct ThreadRing {
  Ring* ring = nullptr;
  const char* name = nullptr;
  ~ThreadRing() {
    if (ring == nullptr) return;
    Registry& reg = registry();
    std::lock_guard<std::mutex> l(reg.mu);
    reg.free.push_back(ring);
    ring = nullptr;
  }
};
thread_local ThreadRing t_ring;

Ring* attach() {
  Registry& reg = registry();
  std::lock_guard<std::mutex> l(reg.mu);
  Ring* r;
  if (!reg.free.empty()) {
    r = reg.free.back();
    reg.free.pop_back();
  } else {
    r = new Ring;
    r->index = static_cast<int>(reg.rings.size());
    reg.rings.push_back(r);
  }
  r->name = t_ring.name != nullptr ? t_ring.name : "thread without M";
  t_ring.ring = r;
  return r;
}

}  // namespace

void set_thread_name(const char* name) { t_ring.name = name; }

void record(EventType type, uint64_t g, uint64_t arg, uint8_t detail) {
  // Pairs with the release store of `enabled` in Session::start (step 4): this ring's `read`
  // as the collector reset it is visible from here on.
  std::atomic_thread_fence(std::memory_order_acquire);
  Ring* r = t_ring.ring != nullptr ? t_ring.ring : attach();
  Machine* m = this_m();
  Event e;
  e.ts = now_ns();
  e.g = g;
  e.arg = arg;
  e.tid = static_cast<int16_t>(m != nullptr ? m->id : -1 - r->index);
  e.p = static_cast<int16_t>(m != nullptr && m->p != nullptr ? m->p->id : -1);
  e.type = type;
  e.detail = detail;
  const uint64_t w = r->written.load(std::memory_order_relaxed);
  if (w - r->cached_read >= kRingSize) {
    r->cached_read = r->read.load(std::memory_order_acquire);  // step 3
    if (w - r->cached_read >= kRingSize) {
      r->dropped.store(r->dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
  }
  r->events[w % kRingSize] = e;
  race_point(RacePoint::kTraceRecord);
  r->written.store(w + 1, std::memory_order_release);  // step 1
}

void record_by_current(EventType type, const Goroutine* g) {
  Machine* m = this_m();
  const Goroutine* cur = m != nullptr ? m->curg : nullptr;
  record(type, g->id, cur != nullptr ? cur->id : 0);
}

Session::Session(size_t max_events) : max_events_(max_events) {}

std::unique_ptr<Session> Session::start(size_t max_events) {
  bool expected = false;
  if (!session_running.compare_exchange_strong(expected, true)) return nullptr;
  std::unique_ptr<Session> s(new Session(max_events));
  Registry& reg = registry();
  {
    std::lock_guard<std::mutex> l(reg.mu);
    for (Ring* r : reg.rings) {
      // Step 4: leftovers of an earlier trace are skipped.
      r->read.store(r->written.load(std::memory_order_acquire), std::memory_order_release);
      s->seen_dropped_.push_back(r->dropped.load(std::memory_order_relaxed));
    }
  }
  s->trace_.start_ns = now_ns();
  if (Scheduler* sched = Scheduler::get()) s->trace_.procs = sched->procs();
  enabled.store(true, std::memory_order_release);
  return s;
}

Session::~Session() {
  if (!stopped_) (void)stop();
}

void Session::drain() {
  Registry& reg = registry();
  std::lock_guard<std::mutex> l(reg.mu);
  for (Ring* r : reg.rings) {
    const uint64_t w = r->written.load(std::memory_order_acquire);  // step 2
    for (uint64_t i = r->read.load(std::memory_order_relaxed); i < w; ++i) {
      const Event& e = r->events[i % kRingSize];
      if (e.ts < trace_.start_ns) continue;  // written late by the previous trace's hooks
      if (trace_.events.size() >= max_events_) {
        ++trace_.dropped;
        continue;
      }
      trace_.events.push_back(e);
    }
    race_point(RacePoint::kTraceDrain);
    r->read.store(w, std::memory_order_release);
  }
}

Trace Session::stop() {
  enabled.store(false, std::memory_order_release);
  drain();
  trace_.end_ns = now_ns();
  {
    Registry& reg = registry();
    std::lock_guard<std::mutex> l(reg.mu);
    for (Ring* r : reg.rings) {
      const size_t i = static_cast<size_t>(r->index);
      const uint64_t base = i < seen_dropped_.size() ? seen_dropped_[i] : 0;
      trace_.dropped += r->dropped.load(std::memory_order_relaxed) - base;
      trace_.threads.push_back({static_cast<int16_t>(-1 - r->index), r->name});
    }
  }
  stopped_ = true;
  session_running.store(false);
  return std::move(trace_);
}

}  // namespace spindle::runtime::trace
