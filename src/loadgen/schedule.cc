#include "loadgen/schedule.h"

#include <charconv>
#include <cmath>

namespace spindle::loadgen {

ArrivalSchedule::ArrivalSchedule(double rate, std::int64_t duration_ns)
    : rate_(rate),
      // The epsilon keeps 2000 * 5.0 from landing just under 10,000 in binary floating point.
      count_(static_cast<std::uint64_t>(
          std::floor(rate * static_cast<double>(duration_ns) / 1e9 + 1e-9))) {}

std::int64_t ArrivalSchedule::offset_ns(std::uint64_t i) const {
  return static_cast<std::int64_t>(
      std::llround(static_cast<long double>(i) * 1e9L / static_cast<long double>(rate_)));
}

std::vector<double> Ramp::rates() const {
  std::vector<double> out;
  if (step <= 0) return {start};
  // Index-based, as in the schedule: 0.1 steps add no rounding drift.
  for (int i = 0;; ++i) {
    double r = start + step * i;
    if (r > max * (1 + 1e-12)) break;
    out.push_back(r);
  }
  return out;
}

base::Result<Ramp, std::string> parse_ramp(std::string_view text) {
  double v[3];
  std::string_view rest = text;
  for (int i = 0; i < 3; ++i) {
    std::size_t colon = i < 2 ? rest.find(':') : rest.size();
    if (colon == std::string_view::npos) {
      return std::string("--ramp wants START:STEP:MAX, got \"") + std::string(text) + "\"";
    }
    std::string_view part = rest.substr(0, colon);
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v[i]);
    if (ec != std::errc() || end != part.data() + part.size() || !std::isfinite(v[i]) || v[i] < 0) {
      return std::string("--ramp: \"") + std::string(part) + "\" is not a rate";
    }
    rest = i < 2 ? rest.substr(colon + 1) : std::string_view();
  }
  Ramp r{v[0], v[1], v[2]};
  if (r.start <= 0) return std::string("--ramp: START must be above 0");
  if (r.max < r.start) return std::string("--ramp: MAX is below START");
  if (r.step <= 0 && r.max != r.start) return std::string("--ramp: STEP must be above 0");
  if (r.step > 0 && (r.max - r.start) / r.step > 10000) {
    return std::string("--ramp: more than 10,000 steps");
  }
  return r;
}

}  // namespace spindle::loadgen
