// Ramp verdicts: whether a step met the limits (--max-error-ratio, --max-p99), and the summary
// of a ramp: the knee (the highest rate that met them) and the step where they broke.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/step_result.h"

namespace spindle::loadgen {

struct Limits {
  double max_error_ratio = 0.01;
  std::chrono::nanoseconds max_p99 = std::chrono::seconds(1);  // 0: no limit
};

// Why a step broke the limits ("error ratio 3.10% > 1.00%", "p99 1.2s > 1s"); "" when met.
std::string broken_limits(const StepResult& step, const Limits& limits);

struct RampSummary {
  std::optional<std::size_t> knee;      // index of the highest step that met the limits
  std::optional<std::size_t> broke_at;  // index of the first step that did not
  std::string why;                      // broken_limits() of that step
  // Steps at which spindle-load did not keep the offered rate (StepResult::kept_rate).
  std::vector<std::size_t> not_kept;
};

// Steps are in rate order and the ramp stops at the first broken step, so the knee is the
// step before it (or the last step, when none broke).
RampSummary summarize(const std::vector<StepResult>& steps, const Limits& limits);

}  // namespace spindle::loadgen
