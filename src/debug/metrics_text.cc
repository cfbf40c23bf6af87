#include "debug/metrics_text.h"

#include <cmath>
#include <cstdio>

#include "base/check.h"

namespace spindle::debug {
namespace {

bool valid_name(std::string_view n, bool label) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c == ':' && !label);
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// HELP text escapes backslash and newline; label values also the double quote.
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

void MetricsText::family(std::string_view name, MetricType type, std::string_view help) {
  SPINDLE_CHECK(valid_name(name, false), "MetricsText::family: invalid metric name");
  SPINDLE_CHECK(names_seen_.emplace(name).second, "MetricsText::family: family started twice");
  name_ = name;
  type_ = type;
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  append_escaped(text_, help, false);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type_name(type);
  text_ += '\n';
}

void MetricsText::line(std::string_view suffix, std::span<const Label> labels, const Label* extra,
                       double value) {
  text_ += name_;
  text_ += suffix;
  if (!labels.empty() || extra != nullptr) {
    text_ += '{';
    bool first = true;
    auto add = [&](const Label& l) {
      SPINDLE_CHECK(valid_name(l.name, true), "MetricsText: invalid label name");
      if (!first) text_ += ',';
      first = false;
      text_ += l.name;
      text_ += "=\"";
      append_escaped(text_, l.value, true);
      text_ += '"';
    };
    for (const Label& l : labels) add(l);
    if (extra != nullptr) add(*extra);
    text_ += '}';
  }
  text_ += ' ';
  text_ += format_value(value);
  text_ += '\n';
}

void MetricsText::sample(double value, std::initializer_list<Label> labels) {
  sample(value, std::span<const Label>(labels.begin(), labels.size()));
}

void MetricsText::sample(double value, std::span<const Label> labels) {
  SPINDLE_CHECK(!name_.empty() && type_ != MetricType::kHistogram,
                "MetricsText::sample: no counter or gauge family started");
  line("", labels, nullptr, value);
}

void MetricsText::histogram(const HistogramSample& h, std::span<const Label> labels) {
  SPINDLE_CHECK(!name_.empty() && type_ == MetricType::kHistogram,
                "MetricsText::histogram: no histogram family started");
  SPINDLE_CHECK(h.upper_bounds.size() == h.counts.size(), "MetricsText::histogram: bucket count");
  for (std::size_t i = 0; i < h.upper_bounds.size(); ++i) {
    const std::string le = format_value(h.upper_bounds[i]);
    const Label extra{"le", le};
    line("_bucket", labels, &extra, static_cast<double>(h.counts[i]));
  }
  const Label inf{"le", "+Inf"};
  line("_bucket", labels, &inf, static_cast<double>(h.count));
  line("_sum", labels, nullptr, h.sum);
  line("_count", labels, nullptr, static_cast<double>(h.count));
}

void MetricsText::counter(std::string_view name, std::string_view help, double value) {
  family(name, MetricType::kCounter, help);
  sample(value);
}

void MetricsText::gauge(std::string_view name, std::string_view help, double value) {
  family(name, MetricType::kGauge, help);
  sample(value);
}

}  // namespace spindle::debug
