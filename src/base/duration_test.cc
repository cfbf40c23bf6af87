#include "base/duration.h"

#include <gtest/gtest.h>

namespace spindle::base {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds ok(std::string_view text) {
  auto r = parse_duration(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error());
  return r.ok() ? *r : std::chrono::nanoseconds(-1);
}

std::string err(std::string_view text) {
  auto r = parse_duration(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.error();
}

TEST(ParseDuration, SingleUnits) {
  EXPECT_EQ(ok("250ms"), 250ms);
  EXPECT_EQ(ok("3s"), 3s);
  EXPECT_EQ(ok("1m"), 1min);
  EXPECT_EQ(ok("2h"), 2h);
  EXPECT_EQ(ok("10us"), 10us);
  EXPECT_EQ(ok("10\xc2\xb5s"), 10us);
  EXPECT_EQ(ok("7ns"), 7ns);
  EXPECT_EQ(ok("0"), 0ns);
  EXPECT_EQ(ok("0s"), 0ns);
}

TEST(ParseDuration, FractionsAndSequences) {
  EXPECT_EQ(ok("1.5s"), 1500ms);
  EXPECT_EQ(ok(".5s"), 500ms);
  EXPECT_EQ(ok("1m30s"), 90s);
  EXPECT_EQ(ok("1h2m3s4ms"), 1h + 2min + 3s + 4ms);
  EXPECT_EQ(ok("0.000000001s"), 1ns);
  EXPECT_EQ(ok("1.0000000000000000000001s"), 1s);  // digits beyond nanoseconds are dropped
}

TEST(ParseDuration, RejectsWithAReason) {
  EXPECT_EQ(err(""), "empty duration");
  EXPECT_NE(err("3").find("missing or unknown unit"), std::string::npos);
  EXPECT_NE(err("3sec").find("missing or unknown unit"), std::string::npos);
  EXPECT_NE(err("3d").find("missing or unknown unit"), std::string::npos);
  EXPECT_NE(err("-3s").find("no sign"), std::string::npos);
  EXPECT_NE(err("+3s").find("no sign"), std::string::npos);
  EXPECT_NE(err("ms").find("expected a number"), std::string::npos);
  EXPECT_NE(err("1s ").find("missing or unknown unit"), std::string::npos);
  EXPECT_NE(err("1s.").find("expected a number"), std::string::npos);
  EXPECT_NE(err("99999999999999999999s").find("too large"), std::string::npos);
  EXPECT_NE(err("9999999h").find("too large"), std::string::npos);
  EXPECT_NE(err("2562047h2562047h").find("too large"), std::string::npos);
}

TEST(FormatDuration, LargestExactUnit) {
  EXPECT_EQ(format_duration(0ns), "0s");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(3s), "3s");
  EXPECT_EQ(format_duration(1min), "1m");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(1500us), "1500us");
  EXPECT_EQ(format_duration(7ns), "7ns");
}

TEST(FormatDuration, RoundTrips) {
  for (std::chrono::nanoseconds d : {std::chrono::nanoseconds(1ns), std::chrono::nanoseconds(999us),
                                     std::chrono::nanoseconds(1001ms),
                                     std::chrono::nanoseconds(61s), std::chrono::nanoseconds(3h)}) {
    EXPECT_EQ(ok(format_duration(d)), d);
  }
}

}  // namespace
}  // namespace spindle::base
