// The scheduler's side of the netpoller and timers: blocking in the poller when every P is
// idle, polling a shard for work, running what a poll readied, and the per-P timer heaps.
// Scheduler functions that the scheduling loop (machine.cc) calls;
// docs/runtime.md, "Netpoller" and "Timers", has the reasoning.
#include <string>

#include "base/check.h"
#include "runtime/scheduler_internal.h"
#include "runtime/trace.h"

namespace spindle::runtime {

// Every P is idle (or this M found nothing): block in the poller until a socket is ready, the
// nearest timer is due, or wake() (Go's findRunnable, "poll network until next timer").
Goroutine* Scheduler::block_in_poller(Machine* m) {
  poll_until_.store(0);
  // Pairs with the fence in add_timer: poller_blocked_ (set by our caller) and poll_until_ = 0
  // are stored before the fence, the heaps' next deadlines loaded after it. Whichever fence
  // comes first, the other side sees its stores: we see the new timer, or its adder sees us
  // blocked with an unknown or later wake-up time and wakes us ("A new timer vs the blocked
  // poller" in docs/runtime.md).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int64_t until = nearest_timer();
  int64_t now = now_ns();
  poll_until_.store(until);
  GList list;
  if (until == kNever || until > now) {
    trace::event(trace::EventType::kMStop, 0, 1);
    netpoll_->poll_blocking(until == kNever ? -1 : until - now, list);
    trace::event(trace::EventType::kMWake, 0, 1);
  } else {
    netpoll_->poll_all(list);
  }
  poll_until_.store(0);
  poller_blocked_.store(false);
  last_poll_ns_.store(now_ns(), std::memory_order_relaxed);
  if (!idle_.take_p(m)) {
    inject_list(list);
    return nullptr;
  }
  run_all_timers(m->p, now_ns());
  return list.empty() ? nullptr : run_polled(m->p, list);
}

Goroutine* Scheduler::poll_shard_into(Processor* p, int shard) {
  GList list;
  if (!netpoll_->poll_shard(shard, list) || list.empty()) return nullptr;
  last_poll_ns_.store(now_ns(), std::memory_order_relaxed);
  return run_polled(p, list);
}

void Scheduler::make_runnable(Goroutine* g) {
  GStatus expected = GStatus::kWaiting;
  if (!g->status.compare_exchange_strong(expected, GStatus::kRunnable)) {
    SPINDLE_FATAL(std::string("ready of goroutine ") + std::to_string(g->id) + " in status " +
                  to_string(expected) + " (only a parked goroutine can be readied)");
  }
  // wait_reason keeps its value (it means something only while kWaiting): a goroutine dump that
  // saw g waiting may be reading it right now (scan_gate.h).
  trace::go_unpark(g);
  if (g->blocked_at != 0) [[unlikely]]
    g->unblocked_at = now_ns();  // a timed wait (block profile)
}

// Goroutines readied by a poll, on an M holding P p: run the first, queue the rest, and wake
// another M only for a batch worth it. Go wakes one for any second goroutine; but a woken M
// costs 40-80 us of wake-up here (futex, two context switches) while a network goroutine
// typically runs 5-20 us before it parks again, so for a few this M is done with them sooner
// than a helper could start — and at moderate load the helper would mostly find nothing and
// park again, which measured as ~12% of a proxy's CPU. sysmon wakes an M if a queue still
// waits behind a long runner (retake, kQueueWaitNs).
Goroutine* Scheduler::run_polled(Processor* p, GList& list) {
  trace::event(trace::EventType::kNetpoll, static_cast<uint64_t>(list.size));
  Goroutine* first = list.pop();
  make_runnable(first);
  const bool batch = list.size >= kWakeBatch;
  while (Goroutine* g = list.pop()) {
    make_runnable(g);
    runq_put(p, g, false);
  }
  if (batch) idle_.wake_p();
  return first;
}

// Goroutines readied by a poll on a thread without a P: global queue, and an M for each idle
// P up to their number (Go's injectglist).
void Scheduler::inject_list(GList& list) {
  if (list.empty()) return;
  int n = list.size;
  trace::event(trace::EventType::kNetpoll, static_cast<uint64_t>(n));
  {
    base::ThreadMutexLock l(mu_);
    while (Goroutine* g = list.pop()) {
      make_runnable(g);
      global_.put(locked_.runq, g);
    }
  }
  for (int i = 0; i < n && idle_.idle_p_count() > 0; ++i) idle_.start_m(nullptr, false);
}

// P p's due timers, run by an M holding P `into`: at most as many as `into`'s ring has room
// for. A timer readies at most one goroutine, onto the running M's queue (a sleeper at its
// tail), so what a batch of timers readies never overflows to the global queue, where it would
// wait behind every goroutine queued there (100k spawned ones that have not run yet, say).
// Timers left over stay due in the heap, in deadline order, for the next look: this P's next
// schedule, a thief, or the poller.
void Scheduler::run_timers(Processor* p, Processor* into, int64_t now) {
  if (p->timers.next_when() <= now) {
    p->timers.run_expired(now, static_cast<int>(into->runq.room()));
  }
}

void Scheduler::run_all_timers(Processor* into, int64_t now) {
  for (auto& p : allp_) run_timers(p.get(), into, now);
}

int64_t Scheduler::nearest_timer() const {
  int64_t next = kNever;
  for (auto& p : allp_) next = std::min(next, p->timers.next_when());
  return next;
}

bool Scheduler::any_timers() const {
  for (auto& p : allp_) {
    if (p->timers.size() > 0) return true;
  }
  return false;
}

void Scheduler::add_timer(RuntimeTimer* t) {
  race_point(RacePoint::kTimerAdd, t);
  // Read before the timer is published: from then on a firing on another P may re-arm it (a
  // periodic timer's `when` moves under its heap's lock).
  const int64_t when = t->when;
  {
    PUse use(this_m());
    (use.p() != nullptr ? use.p() : allp_[0].get())->timers.add(t);
  }
  // A poller sleeping past this timer must wake up and sleep again for less. The heap's next
  // deadline is stored before the fence, poller_blocked_ and poll_until_ loaded after it;
  // pairs with the fence in block_in_poller. Without both, each side's load could be served
  // before its own store is visible (a store buffer), and the poller would sleep on a stale
  // timeout, possibly forever, while this timer waits.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (poller_blocked_.load()) {
    int64_t until = poll_until_.load();
    if (until == 0 || when < until) netpoll_->wake();
  }
}

}  // namespace spindle::runtime
