#include "loadgen/ramp.h"

#include <cstdio>

#include "loadgen/report.h"

namespace spindle::loadgen {

std::string broken_limits(const StepResult& step, const Limits& limits) {
  std::string why;
  char buf[128];
  if (step.error_ratio() > limits.max_error_ratio) {
    std::snprintf(buf, sizeof buf, "error ratio %.2f%% > %.2f%%", 100 * step.error_ratio(),
                  100 * limits.max_error_ratio);
    why = buf;
  }
  std::int64_t p99 = step.latencies.quantile(0.99);
  if (limits.max_p99.count() > 0 && p99 > limits.max_p99.count()) {
    if (!why.empty()) why += ", ";
    why += "p99 " + go_duration(p99) + " > " + go_duration(limits.max_p99.count());
  }
  return why;
}

RampSummary summarize(const std::vector<StepResult>& steps, const Limits& limits) {
  RampSummary s;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (!steps[i].kept_rate()) s.not_kept.push_back(i);
    if (s.broke_at) continue;
    std::string why = broken_limits(steps[i], limits);
    if (why.empty()) {
      s.knee = i;
    } else {
      s.broke_at = i;
      s.why = why;
    }
  }
  return s;
}

}  // namespace spindle::loadgen
