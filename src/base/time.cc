#include "base/time.h"

#include "base/check.h"

namespace spindle::base {

namespace {

// Go's unitMap: nanoseconds per unit. Both micro signs are accepted: U+00B5 (µ, what
// format_duration writes) and U+03BC (Greek mu).
struct Unit {
  std::string_view name;
  std::uint64_t ns;
};
constexpr Unit kUnits[] = {
    {"ns", 1},         {"us", 1'000},        {"\xC2\xB5s", 1'000},  {"\xCE\xBCs", 1'000},
    {"ms", 1'000'000}, {"s", 1'000'000'000}, {"m", 60'000'000'000}, {"h", 3'600'000'000'000},
};

// 2^63: the magnitude of the most negative duration; one more than the most positive.
constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string overflows(std::string_view text) { return "duration " + quoted(text) + " overflows"; }

// Consumes the leading digits of *s as an integer; false on overflow (past 2^63).
bool leading_int(std::string_view* s, std::uint64_t* out) {
  std::uint64_t x = 0;
  std::size_t i = 0;
  for (; i < s->size() && is_digit((*s)[i]); ++i) {
    if (x > kLimit / 10) return false;
    x = x * 10 + static_cast<std::uint64_t>((*s)[i] - '0');
    if (x > kLimit) return false;
  }
  s->remove_prefix(i);
  *out = x;
  return true;
}

// Consumes the digits of a fraction: the value of its digits and 10^(digits kept). Digits
// past what 63 bits hold are consumed but add no precision (Go's leadingFraction).
void leading_fraction(std::string_view* s, std::uint64_t* value, double* scale) {
  std::uint64_t x = 0;
  double sc = 1;
  bool full = false;
  std::size_t i = 0;
  for (; i < s->size() && is_digit((*s)[i]); ++i) {
    if (full) continue;
    if (x > (kLimit - 1) / 10) {
      full = true;
      continue;
    }
    std::uint64_t y = x * 10 + static_cast<std::uint64_t>((*s)[i] - '0');
    if (y > kLimit) {
      full = true;
      continue;
    }
    x = y;
    sc *= 10;
  }
  s->remove_prefix(i);
  *value = x;
  *scale = sc;
}

// Writes the fraction v / 10^prec (".25", trailing zeros and a zero fraction omitted) before
// *w in buf and returns v / 10^prec (Go's fmtFrac).
std::uint64_t format_fraction(char* buf, int* w, std::uint64_t v, int prec) {
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    const auto digit = static_cast<char>(v % 10);
    print = print || digit != 0;
    if (print) buf[--*w] = static_cast<char>('0' + digit);
    v /= 10;
  }
  if (print) buf[--*w] = '.';
  return v;
}

void format_int(char* buf, int* w, std::uint64_t v) {
  do {
    buf[--*w] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
}

}  // namespace

Result<Duration, std::string> parse_duration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Duration(0);
  if (text.empty()) return std::string("empty duration");
  const std::string not_a_number = "invalid duration " + quoted(text) + ": expected a number";
  std::uint64_t total = 0;
  do {
    if (s.empty() || !(s[0] == '.' || is_digit(s[0]))) return not_a_number;
    const std::size_t before = s.size();
    std::uint64_t value = 0;
    if (!leading_int(&s, &value)) return overflows(text);
    const bool whole_digits = s.size() != before;
    std::uint64_t fraction = 0;
    double scale = 1;
    bool fraction_digits = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      const std::size_t at = s.size();
      leading_fraction(&s, &fraction, &scale);
      fraction_digits = s.size() != at;
    }
    if (!whole_digits && !fraction_digits) return not_a_number;  // ".s", "-.s"
    std::size_t u = 0;
    while (u < s.size() && s[u] != '.' && !is_digit(s[u])) ++u;
    if (u == 0) return "missing unit in duration " + quoted(text) + " (e.g. 250ms, 3s, 1m)";
    const std::string_view name = s.substr(0, u);
    s.remove_prefix(u);
    const Unit* unit = nullptr;
    for (const Unit& k : kUnits) {
      if (k.name == name) unit = &k;
    }
    if (unit == nullptr) return "unknown unit " + quoted(name) + " in duration " + quoted(text);
    if (value > kLimit / unit->ns) return overflows(text);
    value *= unit->ns;
    if (fraction > 0) {
      // A double is nanosecond-exact here: the fraction's part is below 3.6e12 ns (an hour).
      value += static_cast<std::uint64_t>(static_cast<double>(fraction) *
                                          (static_cast<double>(unit->ns) / scale));
      if (value > kLimit) return overflows(text);
    }
    total += value;
    if (total > kLimit) return overflows(text);
  } while (!s.empty());
  if (negative) {
    return total == kLimit ? Duration::min() : Duration(-static_cast<std::int64_t>(total));
  }
  if (total == kLimit) return overflows(text);
  return Duration(static_cast<std::int64_t>(total));
}

std::string format_duration(Duration d) {
  char buf[32];
  int w = sizeof buf;
  const bool negative = d.count() < 0;
  // Two's complement: the magnitude of the most negative value fits in 64 unsigned bits.
  std::uint64_t u = static_cast<std::uint64_t>(d.count());
  if (negative) u = ~u + 1;
  if (u < 1'000'000'000) {
    // Under a second: the largest unit below it that keeps an integer part, e.g. "1.5ms".
    int prec = 0;
    buf[--w] = 's';
    if (u == 0) {
      buf[--w] = '0';
      return std::string(buf + w, buf + sizeof buf);
    }
    if (u < 1'000) {
      buf[--w] = 'n';
    } else if (u < 1'000'000) {
      prec = 3;
      buf[--w] = '\xB5';  // "µ", U+00B5, two bytes in UTF-8
      buf[--w] = '\xC2';
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    u = format_fraction(buf, &w, u, prec);
    format_int(buf, &w, u);
  } else {
    buf[--w] = 's';
    u = format_fraction(buf, &w, u, 9);  // now whole seconds
    format_int(buf, &w, u % 60);
    u /= 60;  // minutes
    if (u > 0) {
      buf[--w] = 'm';
      format_int(buf, &w, u % 60);
      u /= 60;  // hours
      if (u > 0) {
        buf[--w] = 'h';
        format_int(buf, &w, u);
      }
    }
  }
  if (negative) buf[--w] = '-';
  return std::string(buf + w, buf + sizeof buf);
}

void ManualClock::advance(Duration d) {
  SPINDLE_CHECK(d >= Duration::zero(), "a manual clock moved back by " + format_duration(d));
  ns_.fetch_add(d.count(), std::memory_order_acq_rel);
}

}  // namespace spindle::base
