// Machine: an M's thread and its scheduling loop (Go's mstart, schedule, findRunnable,
// execute; marl's Worker::run).
//
// Switching. Each M has a scheduler context g0 on its own thread stack. A goroutine that parks,
// yields or exits saves its registers and switches to g0 (switch_to_g0); g0 finishes the
// transition (after_switch: marks it waiting and runs the park's unlock function, or queues
// it, or frees it) and then picks the next goroutine (run / find_runnable / execute). The
// unlock function runs after the goroutine's stack is no longer in use, so whoever readies it
// under the same lock can never resume it while it is still running (Go's gopark).
//
// Finding work (find_runnable), in order:
//   1. every 61st tick, one goroutine from the global queue (GlobalRunQueue::kFairnessTick);
//   2. the local queue (runnext first), after a non-blocking look at the P's poller shard
//      if goroutines are queued and it has not looked for 100 us (busy_poll);
//   3. a batch from the global queue;
//   4. stealing: become a spinning M (only while spinning Ms are fewer than half the busy Ps),
//      then up to 4 passes over all other Ps in random order (a random start and a random
//      stride coprime to the P count), taking half of the first non-empty victim's queue;
//      other Ps' due timers (first and last pass) and poller shards (last pass) are work too.
//      A victim's runnext is taken only on the last pass: it is about to run there, and
//      taking it early would just bounce a producer/consumer pair between Ps;
//   5. otherwise give the P back (idle list) and park the M (drop_p_and_recheck, then
//      Idle::stop_m), or become the M that blocks in the poller.
// Steps 4 and 5 are the spinning protocol's (idle.h).
//
// Rejected: direct goroutine-to-goroutine switches without g0 (one switch cheaper, but the
// park's unlock would run on the next goroutine's stack and every path would need to know
// about it).

#include "runtime/machine.h"

#include <pthread.h>
#include <signal.h>

#include <cstdlib>

#include "base/check.h"
#include "runtime/profile/cpu_profile.h"
#include "runtime/profile/labels.h"
#include "runtime/race_hook.h"
#include "runtime/scheduler_internal.h"
#include "runtime/trace.h"

#if defined(SPINDLE_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(SPINDLE_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace spindle::runtime {

static_assert(static_cast<int>(trace::StopWhy::kExit) == static_cast<int>(AfterSwitch::kExit) &&
                  static_cast<int>(trace::StopWhy::kBlockingNoP) ==
                      static_cast<int>(AfterSwitch::kExitBlocking),
              "the tracer reads Machine::after as a StopWhy");

void Machine::thread_main() {
  set_this_m(this);
  exceptions = thread_exception_state();
  stack_t ss{};
  ss.ss_size = 64 * 1024;
  signal_stack = std::malloc(ss.ss_size);
  ss.ss_sp = signal_stack;
  sigaltstack(&ss, nullptr);
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    stack_bottom = addr;
    stack_size = size;
    pthread_attr_destroy(&attr);
  }
#if defined(SPINDLE_TSAN)
  tsan_fiber = __tsan_get_current_fiber();
#endif
  profiled_thread_start();
  acquire_nextp();
  run();
  profiled_thread_exit();
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  std::free(signal_stack);
  set_this_m(nullptr);
}

void Machine::run() {
  for (;;) {
    Goroutine* g = find_runnable();
    if (g == nullptr) return;  // the runtime is stopping
    while (g != nullptr) {
      execute(g);
      g = after_switch(g);
      if (g != nullptr && p == nullptr) {  // lost the P: let another M run it
        Scheduler& s = sched_;
        base::ThreadMutexLock l(s.mu_);
        s.global_.put(s.locked_.runq, g);
        g = nullptr;
      }
    }
  }
}

// Blocks until it finds a goroutine for this M to run; null when the runtime stops.
Goroutine* Machine::find_runnable() {
  Scheduler& s = sched_;
  if (locked_g != nullptr) {
    s.idle_.stop_locked_m(this);
    Goroutine* g = next_g;
    next_g = nullptr;
    return p != nullptr ? g : nullptr;
  }
  for (;;) {
    if (s.shutting_down_.load(std::memory_order_relaxed)) return nullptr;
    if (p == nullptr && !s.idle_.take_p(this)) {
      s.idle_.stop_m(this);
      continue;
    }
    Goroutine* g = find_local();
    if (g == nullptr && (spinning || s.idle_.spinning_allowed(s.procs()))) {
      if (!spinning) s.idle_.start_spinning(this);
      g = steal_work();
    }
    if (g == nullptr) g = drop_p_and_recheck();
    if (g == nullptr) continue;  // holds a P again, or none (stopping, lost): look again
    if (spinning) s.idle_.found_work(this);
    if (g->locked_m != nullptr && g->locked_m != this) {
      s.idle_.start_locked_m(this, g);
      continue;
    }
    return g;
  }
}

// Steps 1-3 of find_runnable on the M's P, after its due timers.
Goroutine* Machine::find_local() {
  Scheduler& s = sched_;
  int64_t now = 0;  // the clock, read at most once here: 0 until something needs it
  if (p->timers.next_when() != kNever) s.run_timers(p, p, now = now_ns());
  if (s.global_.fairness_due(p)) {
    base::ThreadMutexLock l(s.mu_);
    if (Goroutine* g = s.global_.get(s.locked_.runq, p, 1)) return g;
  }
  if (Goroutine* g = busy_poll(now)) return g;
  if (Goroutine* g = p->runq.pop()) return g;
  if (s.global_.size(std::memory_order_relaxed) > 0) {
    base::ThreadMutexLock l(s.mu_);
    if (Goroutine* g = s.global_.get(s.locked_.runq, p, 0)) return g;
  }
  // Ready sockets of our own shard, unless an M blocked in the poller will see them anyway,
  // or this M is about to become that M (every other P is idle): its blocking poll returns
  // ready sockets just as fast, and a non-blocking look first would cost a system call for
  // nothing whenever none are ready yet (the usual case under light load).
  if (s.netpoll_->waiters() > 0 && !s.poller_blocked_.load(std::memory_order_relaxed) &&
      s.idle_.idle_p_count(std::memory_order_relaxed) < s.procs() - 1) {
    return s.poll_shard_into(p, p->id % s.netpoll_->shards());
  }
  return nullptr;
}

// A P whose queue never empties would otherwise never look at its poller shard: the steps
// above run what is queued first, and the poller is polled when nothing is. With one
// processor (or every P busy), sockets that became ready would then wait for sysmon's forced
// poll, every 10 ms, while the queue grows with goroutines that need those sockets'
// answers (a load generator's new requests, waiting for connections that are idle but whose
// responses have not been read). So a busy P polls its shard without blocking at most every
// kBusyPollNs of running: one system call per that much work.
Goroutine* Machine::busy_poll(int64_t now) {
  Scheduler& s = sched_;
  if (s.netpoll_->waiters() == 0 ||
      (p->runq.empty() && s.global_.size(std::memory_order_relaxed) == 0) ||
      s.poller_blocked_.load(std::memory_order_relaxed)) {
    return nullptr;
  }
  if (now == 0) now = now_ns();
  if (now - p->busy_poll_ns < kBusyPollNs) return nullptr;
  p->busy_poll_ns = now;
  return s.poll_shard_into(p, p->id % s.netpoll_->shards());
}

// The one place a goroutine is stolen: half of victim's queue into ours, one returned.
Goroutine* Machine::steal_from(Processor* victim, bool take_runnext) {
  Goroutine* g = victim->runq.steal_half_into(p->runq, take_runnext);
  if (g != nullptr) {
    sched_.steals_.fetch_add(1, std::memory_order_relaxed);
    trace::event(trace::EventType::kSteal, static_cast<uint64_t>(victim->id));
  }
  return g;
}

// Step 4 of find_runnable, on a spinning M.
Goroutine* Machine::steal_work() {
  Scheduler& s = sched_;
  const auto n = static_cast<uint32_t>(s.allp_.size());
  // Other Ps' poller shards are worth a look only while some other P is busy running
  // goroutines (and so not polling its shard); when all others are idle, this M is about to
  // block in the poller, which watches every shard anyway: don't spend system calls on it.
  const bool poll = s.netpoll_->waiters() > 0 && s.procs() - s.idle_.idle_p_count() > 1;
  for (int pass = 0; pass < 4; ++pass) {
    const bool last = pass == 3;
    uint32_t pos = randn(n);
    const uint32_t stride = s.coprimes_[randn(static_cast<uint32_t>(s.coprimes_.size()))];
    for (uint32_t k = 0; k < n; ++k, pos = (pos + stride) % n) {
      Processor* victim = s.allp_[pos].get();
      if (victim == p) continue;
      if (last || pass == 0) {
        // Expired timers of other Ps are work too (their fns ready goroutines onto our queue).
        int64_t now = victim->timers.next_when() != kNever ? now_ns() : 0;
        if (now != 0 && victim->timers.next_when() <= now) {
          s.run_timers(victim, p, now);
          if (Goroutine* g = p->runq.pop()) return g;
        }
      }
      // So are ready sockets in other Ps' poller shards; only on the last pass, as each look
      // is a system call and most find nothing.
      if (last && poll && s.netpoll_->shards() > 1) {
        if (Goroutine* g = s.poll_shard_into(p, victim->id % s.netpoll_->shards())) return g;
      }
      if (Goroutine* g = steal_from(victim, last)) return g;
    }
    if (s.shutting_down_.load(std::memory_order_relaxed)) return nullptr;
  }
  return nullptr;
}

// Step 5 of find_runnable: nothing found, so give the P back and park, or become the M that
// blocks in the poller. Returns a goroutine if one turned up meanwhile (the M then holds a P
// again), else null: look again.
Goroutine* Machine::drop_p_and_recheck() {
  Scheduler& s = sched_;
  Processor* held = p;
  {
    base::ThreadMutexLock l(s.mu_);
    if (Goroutine* g = s.global_.get(s.locked_.runq, held, 0)) return g;
    release_p();
    s.idle_.p_put(s.locked_.idle, held);
  }
  if (spinning) {
    Goroutine* g = nullptr;
    if (s.idle_.stop_spinning_and_recheck(this, &g)) return g;
  }
  if (s.netpoll_->waiters() > 0 || s.any_timers()) {
    race_point(RacePoint::kPollerBlock);
    if (!s.poller_blocked_.exchange(true)) return s.block_in_poller(this);
  }
  s.idle_.stop_m(this);
  return nullptr;
}

void Machine::execute(Goroutine* g) {
  p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  curg = g;
  g->status.store(GStatus::kRunning, std::memory_order_release);
  sched_.scan_gate_.enter_running(g);  // waits while a goroutine dump reads stacks
  trace::go_start(g);
  if (g->ctx.sp == nullptr) {
    if (!g->stack.valid()) g->stack = sched_.cache_.get_stack(p->cache);
#if defined(SPINDLE_ASAN)
    // A reused stack still carries the poisoning of its previous goroutine's frames.
    __asan_unpoison_memory_region(g->stack.lo(), g->stack.usable());
#endif
    g->ctx = make_context(g->stack.hi(), &goroutine_entry, g);
#if defined(SPINDLE_TSAN)
    g->tsan_fiber = __tsan_create_fiber(0);
#endif
  }
  // From here the P is revocable: sysmon may hand it off if g runs for 10 ms (see PUse).
  p->status.store(pstatus_word(id, PState::kRunning), std::memory_order_release);
#if defined(SPINDLE_ASAN)
  __sanitizer_start_switch_fiber(&asan_fake_stack, g->stack.lo(), g->stack.usable());
#endif
#if defined(SPINDLE_TSAN)
  __tsan_switch_to_fiber(g->tsan_fiber, 0);
#endif
  enter_exception_state(exceptions, g->exceptions);
  spindle_switch_context(&g0.sp, g->ctx.sp);
  leave_exception_state(exceptions, &g->exceptions);
#if defined(SPINDLE_ASAN)
  __sanitizer_finish_switch_fiber(asan_fake_stack, nullptr, nullptr);
#endif
  curg = nullptr;
  trace::go_stop(g, static_cast<uint8_t>(after));
}

// On g0, right after g switched back: finish its transition. Returns a goroutine to run at
// once (g itself when a park's unlock function declined), or null to schedule. p may be null
// here (sysmon took it while g ran, or g returned from a blocking call without one).
Goroutine* Machine::after_switch(Goroutine* g) {
  AfterSwitch why = after;
  after = AfterSwitch::kNone;
  switch (why) {
    case AfterSwitch::kPark:
      return finish_park(g);
    case AfterSwitch::kYield:
    case AfterSwitch::kExitBlocking: {
      g->status.store(GStatus::kRunnable, std::memory_order_release);
      Scheduler& s = sched_;
      base::ThreadMutexLock l(s.mu_);
      s.global_.put(s.locked_.runq, g);
      return nullptr;
    }
    case AfterSwitch::kExit:
      finish_exit(g);
      return nullptr;
    case AfterSwitch::kNone:
      break;
  }
  SPINDLE_FATAL("goroutine switched to the scheduler without saying why");
}

// The one place a goroutine becomes parked (kWaiting), on g0 after its switch: from here a
// ready() may make it runnable again. Returns g when the park's unlock function declined.
Goroutine* Machine::finish_park(Goroutine* g) {
  g->status.store(GStatus::kWaiting, std::memory_order_release);
  UnlockFn unlock_fn = unlock;
  unlock = nullptr;
  if (unlock_fn != nullptr && !unlock_fn(g, unlock_arg)) {
    GStatus expected = GStatus::kWaiting;
    if (g->status.compare_exchange_strong(expected, GStatus::kRunnable)) return g;
  }
  return nullptr;
}

// A goroutine returned: its stack and the goroutine itself go to the P's cache for reuse.
void Machine::finish_exit(Goroutine* g) {
  if (locked_g == g) locked_g = nullptr;
  g->locked_m = nullptr;
  g->lock_count = 0;
  label_release(g->labels.exchange(nullptr, std::memory_order_relaxed));
  g->status.store(GStatus::kDead, std::memory_order_release);
  sched_.scan_gate_.enter_dead();  // a goroutine dump may still read g: reuse it after
#if defined(SPINDLE_TSAN)
  __tsan_destroy_fiber(g->tsan_fiber);
  g->tsan_fiber = nullptr;
#endif
  GoroutineCache& cache = sched_.cache_;
  GoroutineCache::Local* c = p != nullptr ? &p->cache : nullptr;
  cache.put_stack(c, g->stack);
  g->stack = Stack();
  cache.put(c, g);
  sched_.live_.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace spindle::runtime
