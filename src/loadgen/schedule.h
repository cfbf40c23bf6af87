// ArrivalSchedule: when each request of a step is due. Open loop: the i-th request is due at
// start + i / rate whatever happened to the ones before it, computed from i (not by adding a
// period), so rounding never drifts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace spindle::loadgen {

class ArrivalSchedule {
 public:
  // rate > 0 req/s, duration_ns >= 0.
  ArrivalSchedule(double rate, std::int64_t duration_ns);
  // Requests in the step: floor(rate * duration), so 2,000/s for 5 s is exactly 10,000.
  std::uint64_t count() const { return count_; }
  // Offset of request i from the step's start, ns.
  std::int64_t offset_ns(std::uint64_t i) const;

 private:
  double rate_;
  std::uint64_t count_;
};

// A ramp: rates start, start + step, ... up to max (each run for the step duration).
struct Ramp {
  double start = 0;
  double step = 0;
  double max = 0;
  std::vector<double> rates() const;
};

// Parses "START:STEP:MAX" (positive numbers, START <= MAX; STEP may be 0 only if START == MAX).
base::Result<Ramp, std::string> parse_ramp(std::string_view text);

}  // namespace spindle::loadgen
