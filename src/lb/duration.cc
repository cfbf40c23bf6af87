#include "lb/duration.h"

#include <cstdint>
#include <limits>

namespace spindle::lb {

namespace {

// Nanoseconds per unit, longest spellings first so "ms" is not read as "m".
struct Unit {
  std::string_view name;
  std::int64_t ns;
};
constexpr Unit kUnits[] = {
    {"ns", 1},           {"us", 1000},         {"\xC2\xB5s", 1000},    {"ms", 1000000},
    {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL},
};

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

base::Result<Duration, std::string> parse_duration(std::string_view text) {
  if (text == "0") return Duration(0);
  if (text.empty()) return std::string("empty duration");
  std::string_view rest = text;
  long double total = 0;
  while (!rest.empty()) {
    std::size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      value = value * 10 + (rest[i++] - '0');
      digits = true;
    }
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
        value += (rest[i++] - '0') * scale;
        scale /= 10;
        digits = true;
      }
    }
    if (!digits) return "invalid duration " + quoted(text) + ": expected a number";
    std::size_t u = i;
    while (u < rest.size() && !(rest[u] >= '0' && rest[u] <= '9') && rest[u] != '.') ++u;
    std::string_view unit = rest.substr(i, u - i);
    if (unit.empty()) return "missing unit in duration " + quoted(text) + " (e.g. 250ms, 3s, 1m)";
    const Unit* found = nullptr;
    for (const Unit& k : kUnits) {
      if (k.name == unit) found = &k;
    }
    if (found == nullptr) return "unknown unit " + quoted(unit) + " in duration " + quoted(text);
    total += value * static_cast<long double>(found->ns);
    if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
      return "duration " + quoted(text) + " overflows";
    }
    rest = rest.substr(u);
  }
  return Duration(static_cast<std::int64_t>(total + 0.5L));
}

std::string format_duration(Duration d) {
  std::int64_t ns = d.count();
  if (ns == 0) return "0s";
  if (ns % 1000000000LL != 0) {
    if (ns % 1000000 == 0) return std::to_string(ns / 1000000) + "ms";
    if (ns % 1000 == 0) return std::to_string(ns / 1000) + "us";
    return std::to_string(ns) + "ns";
  }
  std::int64_t s = ns / 1000000000LL;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h", s %= 3600;
  if (s >= 60) out += std::to_string(s / 60) + "m", s %= 60;
  if (s > 0) out += std::to_string(s) + "s";
  return out;
}

}  // namespace spindle::lb
