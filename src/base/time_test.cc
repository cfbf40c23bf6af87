#include "base/time.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>

namespace spindle::base {
namespace {

using namespace std::chrono_literals;

constexpr Duration kMax = Duration::max();
constexpr Duration kMin = Duration::min();

// Go's parseDurationTests (src/time/time_test.go), plus the spellings the flags document.
TEST(ParseDurationTest, GoTable) {
  struct Row {
    const char* text;
    Duration want;
  } rows[] = {
      {"0", 0ns},
      {"5s", 5s},
      {"30s", 30s},
      {"1478s", 1478s},
      {"-5s", -5s},
      {"+5s", 5s},
      {"-0", 0ns},
      {"+0", 0ns},
      {"5.0s", 5s},
      {"5.6s", 5s + 600ms},
      {"5.s", 5s},
      {".5s", 500ms},
      {"1.0s", 1s},
      {"1.00s", 1s},
      {"1.004s", 1s + 4ms},
      {"1.0040s", 1s + 4ms},
      {"100.00100s", 100s + 1ms},
      {"10ns", 10ns},
      {"11us", 11us},
      {"12\xC2\xB5s", 12us},  // U+00B5, the micro sign
      {"12\xCE\xBCs", 12us},  // U+03BC, the Greek mu
      {"13ms", 13ms},
      {"14s", 14s},
      {"15m", 15min},
      {"16h", 16h},
      {"3h30m", 3h + 30min},
      {"10.5s4m", 4min + 10s + 500ms},
      {"-2m3.4s", -(2min + 3s + 400ms)},
      {"1h2m3s4ms5us6ns", 1h + 2min + 3s + 4ms + 5us + 6ns},
      {"39h9m14.425s", 39h + 9min + 14s + 425ms},
      {"52763797000ns", 52763797000ns},
      {"0.3333333333333333333h", 20min},  // more than 9 digits after the point
      {"9007199254740993ns", Duration((std::int64_t{1} << 53) + 1)},  // not exact in a double
      {"9223372036854775807ns", kMax},
      {"9223372036854775.807us", kMax},
      {"9223372036s854ms775us807ns", kMax},
      {"-9223372036854775808ns", kMin},
      {"-9223372036854775.808us", kMin},
      {"-9223372036s854ms775us808ns", kMin},
      {"-2562047h47m16.854775808s", kMin},
      {"0.100000000000000000000h", 6min},
      {"0.830103483285477580700h", 49min + 48s + 372539827ns},
      // The examples of the flags and of the issue.
      {"1h2m3.5s", 1h + 2min + 3500ms},
      {"300ms", 300ms},
      {"-1.5h", -90min},
      {"1\xC2\xB5s", 1us},
      {"1us", 1us},
      {"250ms", 250ms},
      {"1m30s", 90s},
  };
  for (const Row& r : rows) {
    auto d = parse_duration(r.text);
    ASSERT_TRUE(d.ok()) << r.text << ": " << d.error();
    EXPECT_EQ(d->count(), r.want.count()) << r.text;
  }
}

// Go's parseDurationErrorTests: malformed and overflowing texts are errors, never a value.
TEST(ParseDurationTest, RejectsGoTable) {
  for (const char* bad : {"",
                          "3",
                          "-",
                          "s",
                          ".",
                          "-.",
                          ".s",
                          "+.s",
                          "1d",
                          "\x85\x85",
                          "\xff"
                          "ff",
                          "hello \xff"
                          "ff world",
                          "\xEF\xBF\xBD",
                          "1x",
                          "1",
                          "1.s.",
                          "1e3s",
                          "9223372036854775810ns",
                          "9223372036854775808ns",
                          "-9223372036854775809ns",
                          "9223372036854776us",
                          "3000000h",
                          "9223372036854775.808us",
                          "9223372036854ms775us808ns",
                          "99999999999999999999s"}) {
    auto d = parse_duration(bad);
    EXPECT_FALSE(d.ok()) << bad << " parsed as " << d->count() << " ns";
  }
}

TEST(ParseDurationTest, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(parse_duration("").error(), "empty duration");
  EXPECT_EQ(parse_duration("1").error(), "missing unit in duration \"1\" (e.g. 250ms, 3s, 1m)");
  EXPECT_EQ(parse_duration("1x").error(), "unknown unit \"x\" in duration \"1x\"");
  EXPECT_EQ(parse_duration("x").error(), "invalid duration \"x\": expected a number");
  EXPECT_EQ(parse_duration("3000000h").error(), "duration \"3000000h\" overflows");
}

// Go's durationTests for Duration.String.
TEST(FormatDurationTest, GoTable) {
  struct Row {
    const char* want;
    Duration d;
  } rows[] = {
      {"0s", 0ns},
      {"1ns", 1ns},
      {"1.1\xC2\xB5s", 1100ns},
      {"2.2ms", 2200us},
      {"3.3s", 3300ms},
      {"4m5s", 4min + 5s},
      {"4m5.001s", 4min + 5001ms},
      {"5h6m7.001s", 5h + 6min + 7001ms},
      {"8m0.000000001s", 8min + 1ns},
      {"2562047h47m16.854775807s", kMax},
      {"-2562047h47m16.854775808s", kMin},
      {"1h2m3.5s", 1h + 2min + 3500ms},
      {"300ms", 300ms},
      {"-1h30m0s", -90min},
      {"1\xC2\xB5s", 1us},
      {"3s", 3s},
      {"1m30s", 90s},
      {"-1ns", -1ns},
  };
  for (const Row& r : rows) EXPECT_EQ(format_duration(r.d), r.want) << r.d.count() << " ns";
}

TEST(FormatDurationTest, ParseReadsEveryFormatBack) {
  std::mt19937_64 rng(15);
  std::vector<std::int64_t> values = {0,
                                      1,
                                      -1,
                                      999,
                                      1000,
                                      999'999'999,
                                      1'000'000'000,
                                      std::numeric_limits<std::int64_t>::max(),
                                      std::numeric_limits<std::int64_t>::min()};
  for (int i = 0; i < 2000; ++i) {
    // Magnitudes spread over every unit: a random value shifted right by 0..63 bits.
    values.push_back(static_cast<std::int64_t>(rng()) >> (rng() % 64));
  }
  for (std::int64_t ns : values) {
    const std::string text = format_duration(Duration(ns));
    auto back = parse_duration(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.error();
    EXPECT_EQ(back->count(), ns) << text;
  }
}

TEST(ManualClockTest, MovesOnlyWhenAdvanced) {
  const TimePoint start = Clock::now();
  ManualClock clock(start);
  EXPECT_EQ(clock.now(), start);
  EXPECT_EQ(clock.now(), start);
  clock.advance(250ms);
  EXPECT_EQ(clock.now(), start + 250ms);
  clock.advance(0ns);
  clock.advance(2h);
  EXPECT_EQ(clock.now() - start, 2h + 250ms);
  EXPECT_NE(to_ns(ManualClock().now()), 0);  // starts at a real time, never at the epoch
  EXPECT_EQ(from_ns(to_ns(start)), start);
}

TEST(ManualClockDeathTest, CannotGoBack) {
  ManualClock clock;
  EXPECT_DEATH(clock.advance(-1ms), "manual clock moved back by -1ms");
}

}  // namespace
}  // namespace spindle::base
