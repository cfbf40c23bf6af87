// MetricsText: the Prometheus text exposition format (version 0.0.4), what a /metrics endpoint
// serves. Programs describe each metric family once (# HELP, # TYPE) and add its samples;
// names follow Prometheus conventions (a `spindle_` prefix, `_total` on counters, base units
// such as `_seconds` and `_bytes`). Not thread-safe: one writer per scrape.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "base/stats.h"

namespace spindle::debug {

struct Label {
  std::string_view name;
  std::string_view value;
};

enum class MetricType : std::uint8_t { kCounter, kGauge, kHistogram };

// A histogram's state at one moment: `counts[i]` observations were <= `upper_bounds[i]`
// (cumulative, as Prometheus wants), `count` of them in all (the +Inf bucket), summing to `sum`.
struct HistogramSample {
  std::span<const double> upper_bounds;
  std::span<const std::uint64_t> counts;
  std::uint64_t count = 0;
  double sum = 0;
};

class MetricsText {
 public:
  // Starts a family; the samples that follow belong to it. A name that is not a valid metric
  // name, or a family started twice, is a programming error (a check).
  void family(std::string_view name, MetricType type, std::string_view help);
  // A sample of the current counter or gauge family.
  void sample(double value, std::initializer_list<Label> labels = {});
  void sample(double value, std::span<const Label> labels);
  // The samples of one histogram of the current histogram family: `_bucket` per bound and
  // +Inf, `_sum`, `_count`, each with `labels` (plus `le` on the buckets).
  void histogram(const HistogramSample& h, std::span<const Label> labels = {});

  // A family with one unlabelled sample.
  void counter(std::string_view name, std::string_view help, double value);
  void gauge(std::string_view name, std::string_view help, double value);

  const std::string& text() const { return text_; }

 private:
  void line(std::string_view suffix, std::span<const Label> labels, const Label* extra,
            double value);

  std::string text_;
  std::string name_;  // the current family
  MetricType type_ = MetricType::kGauge;
  std::set<std::string, std::less<>> names_seen_;  // to refuse a family started twice
};

// Every field of a stats snapshot (base/stats.h) as a family of one sample: its name is
// `prefix` and the field's name, its help and kind the field's.
template <class Snapshot>
void write_stats(MetricsText& out, std::string_view prefix, const Snapshot& snapshot) {
  std::string name;
  base::for_each_metric(snapshot, [&](const base::Metric& m) {
    name.assign(prefix).append(m.name);
    if (m.kind == base::MetricKind::kCounter) {
      out.counter(name, m.help, m.value);
    } else {
      out.gauge(name, m.help, m.value);
    }
  });
}

// The media type of MetricsText::text() (for Content-Type).
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// A sample value as the format writes it: integers exactly, others with full precision, and
// +Inf, -Inf, NaN by name.
std::string format_value(double v);

}  // namespace spindle::debug
