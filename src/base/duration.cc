#include "base/duration.h"

#include <cstdint>
#include <limits>

namespace spindle::base {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t nanos;
};

constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xc2\xb5s", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Takes the unit at the front of `rest` (everything up to the next number); nanos 0 when it
// is none that we know, so "3sec" is an unknown unit rather than 3 s and garbage.
Unit take_unit(std::string_view& rest) {
  std::size_t n = 0;
  while (n < rest.size() && !is_digit(rest[n]) && rest[n] != '.') ++n;
  std::string_view name = rest.substr(0, n);
  rest.remove_prefix(n);
  for (const Unit& u : kUnits) {
    if (u.name == name) return u;
  }
  return {{}, 0};
}

}  // namespace

Result<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text) {
  using R = Result<std::chrono::nanoseconds, std::string>;
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (text.empty()) return R(std::string("empty duration"));
  if (text == "0") return R(std::chrono::nanoseconds(0));
  if (text[0] == '-' || text[0] == '+') {
    return R("invalid duration " + quoted + ": no sign allowed");
  }
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    // Integer part, then an optional fraction, each as exact integers.
    std::int64_t whole = 0;
    std::size_t digits = 0;
    bool overflow = false;
    while (!rest.empty() && is_digit(rest[0])) {
      if (whole > (kMax - (rest[0] - '0')) / 10) overflow = true;
      if (!overflow) whole = whole * 10 + (rest[0] - '0');
      rest.remove_prefix(1);
      ++digits;
    }
    std::int64_t frac = 0, scale = 1;
    if (!rest.empty() && rest[0] == '.') {
      rest.remove_prefix(1);
      while (!rest.empty() && is_digit(rest[0])) {
        if (scale < 1'000'000'000'000'000) {  // digits past 18 cannot change the nanoseconds
          frac = frac * 10 + (rest[0] - '0');
          scale *= 10;
        }
        rest.remove_prefix(1);
        ++digits;
      }
    }
    if (digits == 0) return R("invalid duration " + quoted + ": expected a number");
    if (overflow) return R("invalid duration " + quoted + ": too large");
    Unit u = take_unit(rest);
    if (u.nanos == 0) {
      return R("invalid duration " + quoted + ": missing or unknown unit (ns, us, ms, s, m, h)");
    }
    if (whole > kMax / u.nanos) return R("invalid duration " + quoted + ": too large");
    std::int64_t part = whole * u.nanos;
    // frac/scale of a unit, rounded down to whole nanoseconds without overflow.
    long double extra = static_cast<long double>(frac) * u.nanos / scale;
    part += static_cast<std::int64_t>(extra);
    if (part < 0 || total > kMax - part) return R("invalid duration " + quoted + ": too large");
    total += part;
  }
  return R(std::chrono::nanoseconds(total));
}

std::string format_duration(std::chrono::nanoseconds d) {
  const std::int64_t n = d.count();
  if (n == 0) return "0s";
  // The largest unit that divides the value exactly; "m" and "h" only above a minute.
  for (auto [name, nanos] : {std::pair<const char*, std::int64_t>{"h", 3'600'000'000'000},
                             {"m", 60'000'000'000},
                             {"s", 1'000'000'000},
                             {"ms", 1'000'000},
                             {"us", 1'000},
                             {"ns", 1}}) {
    if (n % nanos == 0) return std::to_string(n / nanos) + name;
  }
  return std::to_string(n) + "ns";
}

}  // namespace spindle::base
