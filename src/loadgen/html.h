// The HTML report (--html FILE): one self-contained page, plots drawn as inline SVG, nothing
// fetched from anywhere. Latency percentiles against offered rate, throughput and errors over
// time, the latency distribution of each step, and the reports' figures as tables.
#pragma once

#include <string>
#include <vector>

#include "loadgen/ramp.h"
#include "loadgen/step_result.h"

namespace spindle::loadgen {

// `title` names the run ("GET 127.0.0.1:8080/"); `ramp`: whether to show the ramp summary.
std::string html_report(const std::string& title, const std::vector<StepResult>& steps, bool ramp,
                        const RampSummary& summary, const Limits& limits);

}  // namespace spindle::loadgen
