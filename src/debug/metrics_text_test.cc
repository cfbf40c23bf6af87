#include "debug/metrics_text.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>

namespace spindle::debug {
namespace {

TEST(MetricsText, FamilyHasHelpTypeAndSamples) {
  MetricsText m;
  m.family("spindle_requests_total", MetricType::kCounter, "Requests answered.");
  m.sample(3, {{"backend", "a"}, {"code", "2xx"}});
  m.sample(1, {{"backend", "b"}, {"code", "5xx"}});
  m.gauge("spindle_in_flight", "Requests in flight.", 7);
  EXPECT_EQ(m.text(),
            "# HELP spindle_requests_total Requests answered.\n"
            "# TYPE spindle_requests_total counter\n"
            "spindle_requests_total{backend=\"a\",code=\"2xx\"} 3\n"
            "spindle_requests_total{backend=\"b\",code=\"5xx\"} 1\n"
            "# HELP spindle_in_flight Requests in flight.\n"
            "# TYPE spindle_in_flight gauge\n"
            "spindle_in_flight 7\n");
}

TEST(MetricsText, EscapesHelpAndLabelValues) {
  MetricsText m;
  m.family("x_total", MetricType::kCounter, "a \\ b\nc \"q\"");
  m.sample(1, {{"url", "http://h/\"p\"\\\n"}});
  EXPECT_EQ(m.text(),
            "# HELP x_total a \\\\ b\\nc \"q\"\n"
            "# TYPE x_total counter\n"
            "x_total{url=\"http://h/\\\"p\\\"\\\\\\n\"} 1\n");
}

TEST(MetricsText, ValuesKeepPrecisionAndSpecialValues) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(12345678901234), "12345678901234");
  EXPECT_EQ(format_value(-2), "-2");
  EXPECT_EQ(std::stod(format_value(0.1)), 0.1);
  EXPECT_EQ(std::stod(format_value(1e300)), 1e300);
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsText, HistogramHasCumulativeBucketsSumAndCount) {
  const std::array<double, 2> bounds = {0.005, 0.1};
  const std::array<std::uint64_t, 2> counts = {2, 5};
  MetricsText m;
  m.family("lat_seconds", MetricType::kHistogram, "Latency.");
  const Label labels[] = {{"backend", "a"}};
  m.histogram({bounds, counts, 6, 1.25}, labels);
  EXPECT_EQ(m.text(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{backend=\"a\",le=\"0.0050000000000000001\"} 2\n"
            "lat_seconds_bucket{backend=\"a\",le=\"0.10000000000000001\"} 5\n"
            "lat_seconds_bucket{backend=\"a\",le=\"+Inf\"} 6\n"
            "lat_seconds_sum{backend=\"a\"} 1.25\n"
            "lat_seconds_count{backend=\"a\"} 6\n");
}

TEST(MetricsTextDeathTest, MisuseIsAProgrammingError) {
  EXPECT_DEATH(
      {
        MetricsText m;
        m.family("bad name", MetricType::kGauge, "x");
      },
      "invalid metric name");
  EXPECT_DEATH(
      {
        MetricsText m;
        m.gauge("a", "x", 1);
        m.gauge("a", "x", 2);
      },
      "started twice");
  EXPECT_DEATH(
      {
        MetricsText m;
        m.family("h", MetricType::kHistogram, "x");
        m.sample(1);
      },
      "no counter or gauge family");
}

}  // namespace
}  // namespace spindle::debug
