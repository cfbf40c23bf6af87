// Idle: starting, stopping and spinning Ms, handing Ps over. The protocol is at the top of
// idle.h.
#include "runtime/idle.h"

#include "base/check.h"
#include "runtime/race_hook.h"
#include "runtime/scheduler_internal.h"

namespace spindle::runtime {

Machine* Idle::m_get(Locked& l) {
  Machine* m = l.idle_m;
  if (m != nullptr) {
    l.idle_m = m->idle_next;
    m->idle_next = nullptr;
    --l.idle_m_count;
  }
  return m;
}

void Idle::start_m(Processor* p, bool spinning) {
  base::ThreadMutexLock l(s_.mu_);
  Locked& idle = s_.locked_.idle;
  if (s_.locked_.stopping) {
    if (spinning) spinning_m_count_.fetch_sub(1);
    if (p != nullptr) p_put(idle, p);
    return;
  }
  if (p == nullptr) {
    p = p_get(idle);
    if (p == nullptr) {
      if (spinning) spinning_m_count_.fetch_sub(1);
      return;
    }
  }
  s_.wakeups_.fetch_add(1, std::memory_order_relaxed);
  s_.sysmon_.wake();
  Machine* m = m_get(idle);
  if (m == nullptr) {
    s_.new_m(p, spinning);
    return;
  }
  m->spinning = spinning;
  m->nextp = p;
  m->park.wakeup();
}

void Idle::stop_m(Machine* m) {
  SPINDLE_CHECK(m->p == nullptr && !m->spinning, "stopping an M that holds a P or spins");
  {
    base::ThreadMutexLock l(s_.mu_);
    if (s_.locked_.stopping) return;
    Locked& idle = s_.locked_.idle;
    m->idle_next = idle.idle_m;
    idle.idle_m = m;
    ++idle.idle_m_count;
    s_.check_dead();
  }
  trace::event(trace::EventType::kMStop, 0);
  m->park.sleep();
  trace::event(trace::EventType::kMWake, 0);
  m->acquire_nextp();
}

bool Idle::take_p(Machine* m) {
  Processor* p;
  {
    base::ThreadMutexLock l(s_.mu_);
    p = p_get(s_.locked_.idle);
  }
  if (p == nullptr) return false;
  m->acquire_p(p);
  s_.sysmon_.wake();  // e.g. the poller M taking a P after every P was idle
  return true;
}

void Idle::hand_off_p(Processor* p) {
  trace::event(trace::EventType::kPHandoff, static_cast<uint64_t>(p->id));
  if (!p->runq.empty() || s_.global_.size() > 0) {
    start_m(p, false);
    return;
  }
  int expected = 0;
  if (spinning_m_count_.load() + idle_p_count_.load() == 0 &&
      spinning_m_count_.compare_exchange_strong(expected, 1)) {
    start_m(p, true);
    return;
  }
  base::ThreadMutexLock l(s_.mu_);
  if (s_.global_.size() > 0) {
    l.unlock();
    start_m(p, false);
    return;
  }
  p_put(s_.locked_.idle, p);
}

bool Idle::stop_spinning_and_recheck(Machine* m, Goroutine** g) {
  race_point(RacePoint::kDropPRecheck);
  stop_spinning(m);  // (b), then (c): see step 3 at the top of idle.h
  base::ThreadMutexLock l(s_.mu_);
  if (s_.global_.size() > 0) {
    if (Processor* p = p_get(s_.locked_.idle)) {
      *g = s_.global_.get(s_.locked_.runq, p, 0);
      l.unlock();
      m->acquire_p(p);
      s_.sysmon_.wake();  // a P going busy, as in take_p: sysmon may have just gone to sleep
      start_spinning(m);
      return true;
    }
  }
  l.unlock();
  for (auto& victim : s_.allp_) {
    if (victim->runq.empty()) continue;
    if (take_p(m)) start_spinning(m);
    *g = nullptr;
    return true;
  }
  return false;
}

void Idle::start_locked_m(Machine* m, Goroutine* g) {
  Machine* owner = g->locked_m;
  owner->next_g = g;
  owner->nextp = m->release_p();
  {
    // Counted as running from now on, before it wakes, so check_dead never sees a gap.
    base::ThreadMutexLock l(s_.mu_);
    --s_.locked_.idle.idle_locked_m_count;
  }
  owner->park.wakeup();
  stop_m(m);
}

void Idle::stop_locked_m(Machine* m) {
  if (m->p != nullptr) hand_off_p(m->release_p());
  {
    base::ThreadMutexLock l(s_.mu_);
    if (s_.locked_.stopping) return;
    ++s_.locked_.idle.idle_locked_m_count;
    s_.check_dead();
  }
  trace::event(trace::EventType::kMStop, 0);
  m->park.sleep();  // start_locked_m took us off idle_locked_m_count
  trace::event(trace::EventType::kMWake, 0);
  m->acquire_nextp();
}

}  // namespace spindle::runtime
