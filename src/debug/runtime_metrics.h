// The runtime's scheduler counters as Prometheus metrics (`spindle_runtime_*`): goroutines,
// threads, processors, run queues, steals, wake-ups, netpoll, blocking-call hand-offs, timers.
#pragma once

#include "debug/metrics_text.h"

namespace spindle::debug {

// From runtime::current_stats(): a few relaxed loads, no stop-the-world. From a goroutine.
void write_runtime_metrics(MetricsText& out);

}  // namespace spindle::debug
