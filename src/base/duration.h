// Durations on the command line ("250ms", "3s", "1m", "1m30s", "1.5s"): parse_duration turns
// the text into nanoseconds and format_duration prints one back. Go's time.ParseDuration
// syntax without the sign: flags of spindle-lb and spindle-backend use it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"

namespace spindle::base {

// A sequence of decimal numbers (optional fraction) each followed by a unit: ns, us (or µs),
// ms, s, m, h. "0" alone is zero. Fails with a message naming the problem for an empty text,
// a missing or unknown unit, a sign, or a value that overflows 64-bit nanoseconds.
Result<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text);

// The shortest exact form in one unit: "250ms", "3s", "1m", "1500us", "0s".
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace spindle::base
