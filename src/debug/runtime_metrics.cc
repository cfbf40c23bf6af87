#include "debug/runtime_metrics.h"

#include "runtime/runtime.h"

namespace spindle::debug {

void write_runtime_metrics(MetricsText& out) {
  write_stats(out, "spindle_runtime_", runtime::current_stats());
}

}  // namespace spindle::debug
