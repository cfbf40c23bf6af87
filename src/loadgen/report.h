// Reports of an attack: vegeta's text layout per step (plus spindle-load's send lag and
// whether it kept the offered rate), the ramp summary, and JSON with the same fields plus the
// full latency histogram and the per-second timeline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/attack.h"
#include "loadgen/ramp.h"
#include "loadgen/step_result.h"

namespace spindle::loadgen {

// Go's time.Duration.String(): "0s", "850ns", "1.5µs", "145.082066ms", "1m30.5s".
std::string go_duration(std::int64_t ns);

// One step in vegeta's text layout.
std::string text_report(const StepResult& step);
// The ramp's closing lines: the knee, where the limits broke, the steps not kept.
std::string text_summary(const std::vector<StepResult>& steps, const RampSummary& summary,
                         const Limits& limits);

// The progress line of a running step: offered and achieved rate, in flight, errors so far.
std::string progress_line(const Progress& p, std::int64_t now_ns);

// {"steps": [...], "summary": {...}} (summary only when `ramp`). Times in ns; "earliest",
// "latest" and "end" count from the run's start.
std::string json_report(const std::vector<StepResult>& steps, bool ramp, const RampSummary& summary,
                        const Limits& limits);

}  // namespace spindle::loadgen
