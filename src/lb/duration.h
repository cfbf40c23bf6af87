// Durations as written on the command line: Go's time.ParseDuration syntax ("250ms", "3s",
// "1m", "1.5s", "1m30s"; units ns, us, µs, ms, s, m, h). Used by cmd/spindle-lb's flags.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"

namespace spindle::lb {

using Duration = std::chrono::nanoseconds;

// A non-negative duration; "0" alone is allowed without a unit. Errors say what is wrong:
// "missing unit in \"3\"", "unknown unit \"x\" in \"3x\"", "overflow", ...
base::Result<Duration, std::string> parse_duration(std::string_view text);

// "250ms", "3s", "1m30s": the shortest exact spelling, for --help and logs.
std::string format_duration(Duration d);

}  // namespace spindle::lb
