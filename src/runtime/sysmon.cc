// Sysmon (sysmon.h): the monitor thread.
//
// sysmon is a thread with no P (Go's sysmon). It sleeps 20 us, doubling up to 10 ms after 50
// rounds in which it had nothing to do, and sleeps until woken once no goroutine has run for
// a few rounds at 10 ms, so an idle runtime uses no CPU. Each round it:
//   1. polls the network if nobody has for 10 ms and no M is blocked in the poller;
//   2. starts an M if a timer is overdue and nobody is running timers;
//   3. retakes Ps (retake): from Ms in a blocking call for more than one round (~20 us) when
//      the P has work or nobody else is spinning or idle, and from Ms whose goroutine has run
//      10 ms without yielding while other goroutines wait; after 1 ms of such waiting it first
//      wakes an idle P to steal them (polls queue small batches without waking, run_polled).
//
// Fairness (the 10 ms rule). Go preempts a long-running goroutine asynchronously with a signal
// and switches it out wherever it is. C++ code cannot be switched out at an arbitrary
// instruction: it may be inside malloc, hold a std::mutex, or be in the middle of a lock-free
// update; resuming it on another thread would break thread-local state. So spindle never stops
// the long runner. It takes its *processor* away instead, exactly as for a blocking call: the
// P goes to another M, which runs the goroutines that were waiting, while the long runner
// keeps its thread and the kernel time-slices the two threads. The long runner notices at its
// next runtime call or yield point (its P status word no longer names it) and then queues
// itself like a goroutine returning from a blocking call. Safe for arbitrary C++ code; the
// cost is one extra thread per long runner while it runs.
// Rejected: signal-based asynchronous preemption (unsafe in C++, see above); a preempt flag
// checked only at yield points (a loop without yield points would starve its P forever);
// compiler-inserted checks (needs every library rebuilt).

#include "runtime/sysmon.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>

#include "base/check.h"
#include "runtime/profile/cpu_profile.h"
#include "runtime/scheduler_internal.h"
#include "runtime/trace.h"

namespace spindle::runtime {

namespace {

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr closed or broken: the trace is best effort
    done += static_cast<size_t>(n);
  }
}

constexpr int64_t kSysmonMinNs = 20'000;
constexpr int64_t kSysmonMaxNs = 10'000'000;
constexpr int64_t kForcePollNs = 10'000'000;
constexpr int64_t kLongRunNs = 10'000'000;
constexpr int64_t kQueueWaitNs = 1'000'000;
constexpr int kDeepSleepRounds = 5;
constexpr int64_t kLongSyscallNs = 10'000'000;
constexpr size_t kStackReserve = 1024;  // released stacks kept resident for quick reuse
constexpr size_t kScavengePerRound = 256;
}  // namespace

void Sysmon::start() {
  thread_ = std::thread([this] {
    profiled_thread_start();  // sysmon's CPU shows in CPU profiles too
    run();
    profiled_thread_exit();
  });
}

void Sysmon::stop() {
  note_.wakeup();
  thread_.join();
}

void Sysmon::run() {
  trace::set_thread_name("sysmon");
  Scheduler& s = s_;
  int idle_rounds = 0;
  int all_idle_rounds = 0;  // consecutive rounds with every P idle and nothing run meanwhile
  uint64_t idle_ticks = 0;  // the Ps' schedticks summed at the last all-idle round
  int64_t delay = kSysmonMinNs;
  const int64_t trace_ns = s.debug_.schedtrace_ms * 1'000'000;
  int64_t next_trace = now_ns() + trace_ns;
  while (!s.shutting_down_.load()) {
    delay = idle_rounds == 0   ? kSysmonMinNs
            : idle_rounds > 50 ? std::min(delay * 2, kSysmonMaxNs)
                               : delay;
    if (trace_ns > 0) delay = std::max<int64_t>(0, std::min(delay, next_trace - now_ns()));
    note_.sleep_for(delay);
    if (s.shutting_down_.load()) break;
    if (trace_ns > 0 && now_ns() >= next_trace) {
      // The scheduler trace (schedtrace.cc), written with one write so lines of concurrent
      // writers do not interleave.
      std::string line = s.sched_trace(now_ns(), s.debug_.scheddetail);
      write_all(STDERR_FILENO, line);
      next_trace = std::max(next_trace + trace_ns, now_ns());
    }
    if (s.idle_.idle_p_count() == s.procs()) {
      // Nothing runs now. Only once nothing has run for a while (the delay at its maximum
      // and no goroutine scheduled for 5 rounds, ~50 ms): return every cached stack page to
      // the kernel, then sleep until a P goes busy (wake) or a minute passes.
      // Sleeping whenever a round found every P idle cost a futex wake-up plus 50 rounds at
      // 20 us per idle-to-busy transition, which under moderate network load (Ps idle
      // between events) came to hundreds per second and ~3% of a proxy's CPU.
      ++idle_rounds;
      uint64_t ticks = 0;  // unchanged across rounds: nothing ran in between
      for (auto& p : s.allp_) ticks += p->schedtick.load(std::memory_order_relaxed);
      all_idle_rounds = ticks == idle_ticks ? all_idle_rounds + 1 : 0;
      idle_ticks = ticks;
      // With the scheduler trace on, sysmon keeps waking to print it (as Go's does).
      if (delay < kSysmonMaxNs || all_idle_rounds < kDeepSleepRounds || trace_ns > 0) continue;
      scavenge_stacks(0, SIZE_MAX);
      sleeping_.store(true);
      if (s.idle_.idle_p_count() == s.procs()) {
        race_point(RacePoint::kSysmonDeepSleep);
        note_.sleep_for(60'000'000'000);
      }
      sleeping_.store(false);
      idle_rounds = 0;
      all_idle_rounds = 0;
      continue;
    }
    all_idle_rounds = 0;
    const int64_t now = now_ns();
    if (s.netpoll_->waiters() > 0 && !s.poller_blocked_.load() &&
        now - s.last_poll_ns_.load(std::memory_order_relaxed) > kForcePollNs) {
      GList list;
      s.netpoll_->poll_all(list);
      s.last_poll_ns_.store(now, std::memory_order_relaxed);
      s.inject_list(list);
    }
    if (s.nearest_timer() < now - 1'000'000 && !s.poller_blocked_.load() &&
        s.idle_.idle_p_count() > 0) {
      s.idle_.start_m(nullptr, false);
    }
    idle_rounds = retake(now) > 0 ? 0 : idle_rounds + 1;
    // Released stacks beyond a reserve give their pages back, a few per round.
    scavenge_stacks(kStackReserve, kScavengePerRound);
  }
}

int Sysmon::retake(int64_t now) {
  Scheduler& s = s_;
  int taken = 0;
  for (auto& owned : s.allp_) {
    Processor* p = owned.get();
    uint32_t word = p->status.load(std::memory_order_acquire);
    PState state = pstate_of(word);
    if (state == PState::kSyscall) {
      uint32_t tick = p->syscalltick.load(std::memory_order_relaxed);
      if (p->sysmon_syscalltick != tick) {  // a new call: give it one round
        p->sysmon_syscalltick = tick;
        p->sysmon_syscallwhen = now;
        continue;
      }
      // Don't hand off a P with nothing to do while others could help, unless long blocked.
      if (p->runq.empty() && s.global_.size() == 0 &&
          s.idle_.spinning_m_count() + s.idle_.idle_p_count() > 0 &&
          now - p->sysmon_syscallwhen < kLongSyscallNs) {
        continue;
      }
      if (p->status.compare_exchange_strong(word, kPStatusIdle)) {
        p->m = nullptr;
        s.handoffs_.fetch_add(1, std::memory_order_relaxed);
        trace::event(trace::EventType::kRetake, static_cast<uint64_t>(p->id), 0);
        s.idle_.hand_off_p(p);
        ++taken;
      }
    } else if (state == PState::kRunning || state == PState::kBusy) {
      uint32_t tick = p->schedtick.load(std::memory_order_relaxed);
      if (p->sysmon_schedtick != tick) {
        p->sysmon_schedtick = tick;
        p->sysmon_schedwhen = now;
        continue;
      }
      bool others_wait = !p->runq.empty() || s.global_.size() > 0 || p->timers.next_when() <= now;
      // Goroutines a poll queued without waking an M (run_polled) wait behind one that has
      // run for a while: let an idle P take them.
      if (others_wait && now - p->sysmon_schedwhen >= kQueueWaitNs && s.idle_.idle_p_count() > 0 &&
          s.idle_.spinning_m_count() == 0) {
        s.idle_.wake_p();
      }
      if (state == PState::kRunning && others_wait && now - p->sysmon_schedwhen >= kLongRunNs) {
        race_point(RacePoint::kSysmonRetake, p);
        if (p->status.compare_exchange_strong(word, kPStatusIdle)) {
          p->m = nullptr;
          p->sysmon_schedwhen = now;
          s.preemptions_.fetch_add(1, std::memory_order_relaxed);
          trace::event(trace::EventType::kRetake, static_cast<uint64_t>(p->id), 1);
          s.idle_.hand_off_p(p);
          ++taken;
        }
      }
    }
  }
  return taken;
}

}  // namespace spindle::runtime
