// The `process_*` metrics every Prometheus client library exports (CPU time, memory, file
// descriptors, start time), read from /proc/self. Linux only.
#pragma once

#include "debug/metrics_text.h"

namespace spindle::debug {

// Adds process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and
// process_start_time_seconds. Reads /proc from inside runtime::blocking(); a value that cannot
// be read is left out (a scrape never fails for it).
void write_process_metrics(MetricsText& out);

}  // namespace spindle::debug
