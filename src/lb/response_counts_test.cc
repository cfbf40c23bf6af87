#include "lb/response_counts.h"

#include <gtest/gtest.h>

namespace spindle::lb {
namespace {

TEST(ResponseCountsTest, MethodClasses) {
  using http::Method;
  EXPECT_EQ(kMethodClasses[method_class(Method::kGet)], "GET");
  EXPECT_EQ(kMethodClasses[method_class(Method::kHead)], "HEAD");
  EXPECT_EQ(kMethodClasses[method_class(Method::kPost)], "POST");
  EXPECT_EQ(kMethodClasses[method_class(Method::kPut)], "PUT");
  EXPECT_EQ(kMethodClasses[method_class(Method::kDelete)], "DELETE");
  for (Method m :
       {Method::kConnect, Method::kOptions, Method::kTrace, Method::kPatch, Method::kOther}) {
    EXPECT_EQ(kMethodClasses[method_class(m)], "OTHER") << http::to_string(m);
  }
}

TEST(ResponseCountsTest, StatusClasses) {
  EXPECT_EQ(kStatusClasses[status_class(200)], "2xx");
  EXPECT_EQ(kStatusClasses[status_class(299)], "2xx");
  EXPECT_EQ(kStatusClasses[status_class(304)], "3xx");
  EXPECT_EQ(kStatusClasses[status_class(404)], "4xx");
  EXPECT_EQ(kStatusClasses[status_class(499)], "4xx");
  EXPECT_EQ(kStatusClasses[status_class(503)], "5xx");
  EXPECT_EQ(kStatusClasses[status_class(599)], "5xx");
  EXPECT_EQ(kStatusClasses[status_class(600)], "other");
  EXPECT_EQ(kStatusClasses[status_class(999)], "other");
}

TEST(ResponseCountsTest, CountsByMethodAndStatusClass) {
  ResponseCounts c;
  for (int i = 0; i < 3; ++i) c.count(http::Method::kGet, 200);
  c.count(http::Method::kGet, 503);
  c.count(http::Method::kPatch, 204);
  c.count(http::Method::kPost, 701);
  const ResponseCounts::Snapshot s = c.snapshot();
  EXPECT_EQ(s[0][0], 3u);  // GET 2xx
  EXPECT_EQ(s[0][3], 1u);  // GET 5xx
  EXPECT_EQ(s[5][0], 1u);  // OTHER 2xx
  EXPECT_EQ(s[2][kOtherStatus], 1u);
  std::uint64_t total = 0;
  for (const auto& row : s) {
    for (std::uint64_t n : row) total += n;
  }
  EXPECT_EQ(total, 6u);

  StatusCounts a, b;
  a.count(200);
  a.count(404);
  b.count(404);
  b.add(a.snapshot());
  EXPECT_EQ(b.snapshot(), (StatusCounts::Snapshot{1, 0, 2, 0, 0}));
}

}  // namespace
}  // namespace spindle::lb
