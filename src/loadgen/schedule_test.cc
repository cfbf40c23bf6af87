#include "loadgen/schedule.h"

#include <gtest/gtest.h>

namespace spindle::loadgen {
namespace {

TEST(ArrivalSchedule, EvenlySpacedWithoutDrift) {
  ArrivalSchedule s(2000, 5'000'000'000);
  ASSERT_EQ(s.count(), 10000u);
  for (std::uint64_t i = 0; i < s.count(); ++i)
    ASSERT_EQ(s.offset_ns(i), 500'000 * static_cast<std::int64_t>(i));
  ArrivalSchedule thirds(3, 1'000'000'000);  // a period that is not a whole number of ns
  EXPECT_EQ(thirds.count(), 3u);
  EXPECT_EQ(thirds.offset_ns(1), 333'333'333);
  EXPECT_EQ(thirds.offset_ns(2), 666'666'667);
  EXPECT_EQ(ArrivalSchedule(3, 1'000'000'000 * 1000LL).offset_ns(3000), 1'000'000'000'000);
  EXPECT_EQ(ArrivalSchedule(0.5, 3'000'000'000).count(), 1u);
}

TEST(Ramp, ParsesAndListsTheRates) {
  auto r = parse_ramp("1000:500:2600");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->rates(), (std::vector<double>{1000, 1500, 2000, 2500}));
  EXPECT_EQ(parse_ramp("0.1:0.1:0.3")->rates().size(), 3u);
  EXPECT_EQ(parse_ramp("5:0:5")->rates(), (std::vector<double>{5}));
  for (const char* bad :
       {"", "1:2", "1:2:3:4", "a:1:2", "0:1:5", "5:1:4", "1:0:5", "-1:1:5", "1:0.0001:100"}) {
    EXPECT_FALSE(parse_ramp(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace spindle::loadgen
