// Histogram: counts of durations in fixed buckets, for latency metrics. Any thread or
// goroutine may observe (relaxed atomic adds, no lock); a scrape reads a snapshot that may be a
// few observations behind on some buckets, never torn within one counter.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "debug/metrics_text.h"

namespace spindle::debug {

class Histogram {
 public:
  // Bucket upper bounds in seconds, ascending; the +Inf bucket is implicit.
  explicit Histogram(std::span<const double> upper_bounds);
  // Request latencies from 100 µs to 10 s (Prometheus client libraries' default range, with
  // finer buckets below 5 ms where a balancer's answers fall).
  static std::span<const double> latency_bounds();

  void observe_ns(std::int64_t ns);
  void observe_seconds(double s) { observe_ns(static_cast<std::int64_t>(s * 1e9)); }

  // Cumulative counts, as MetricsText::histogram takes them.
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> counts;
    std::uint64_t count = 0;
    double sum = 0;
    HistogramSample sample() const { return {upper_bounds, counts, count, sum}; }
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::vector<std::int64_t> bounds_ns_;
  // One per bound plus +Inf; not cumulative.
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace spindle::debug
