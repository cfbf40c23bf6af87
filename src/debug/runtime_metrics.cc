#include "debug/runtime_metrics.h"

#include "runtime/runtime.h"

namespace spindle::debug {

void write_runtime_metrics(MetricsText& out) {
  const runtime::Stats s = runtime::current_stats();
  auto gauge = [&](const char* name, const char* help, double v) { out.gauge(name, help, v); };
  auto counter = [&](const char* name, const char* help, double v) { out.counter(name, help, v); };
  gauge("spindle_runtime_goroutines", "Goroutines that exist now (running, runnable or parked).",
        static_cast<double>(s.live_goroutines));
  counter("spindle_runtime_goroutines_created_total", "Goroutines created.",
          static_cast<double>(s.goroutines_created));
  gauge("spindle_runtime_procs", "Processors (GOMAXPROCS).", s.procs);
  gauge("spindle_runtime_idle_procs", "Processors with nothing to run.", s.idle_procs);
  gauge("spindle_runtime_threads", "Machine threads (Ms) alive.", s.threads);
  gauge("spindle_runtime_idle_threads", "Machine threads parked without a processor.",
        s.idle_threads);
  gauge("spindle_runtime_spinning_threads", "Machine threads spinning in search of work.",
        s.spinning_threads);
  gauge("spindle_runtime_global_run_queue", "Goroutines in the global run queue.",
        static_cast<double>(s.global_runq));
  counter("spindle_runtime_steals_total",
          "Successful steals of goroutines from another processor's run queue.",
          static_cast<double>(s.steals));
  counter("spindle_runtime_global_takes_total", "Batches taken from the global run queue.",
          static_cast<double>(s.global_takes));
  counter("spindle_runtime_thread_wakeups_total", "Parked machine threads woken to run work.",
          static_cast<double>(s.thread_wakeups));
  counter("spindle_runtime_netpoll_polls_total", "Non-blocking polls of the network poller.",
          static_cast<double>(s.netpoll_polls));
  counter("spindle_runtime_netpoll_events_total", "Readiness events the network poller handled.",
          static_cast<double>(s.netpoll_events));
  counter("spindle_runtime_blocking_handoffs_total",
          "Processors sysmon took from threads stuck in a blocking call.",
          static_cast<double>(s.handoffs));
  counter("spindle_runtime_sysmon_retakes_total",
          "Processors sysmon handed off from a goroutine that ran too long.",
          static_cast<double>(s.preemptions));
  gauge("spindle_runtime_timers", "Armed runtime timers (sleeps, deadlines, tickers).",
        static_cast<double>(s.timers));
}

}  // namespace spindle::debug
