#include "loadgen/html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "loadgen/report.h"

namespace spindle::loadgen {

namespace {

constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
};

struct Axis {
  std::string label;
  bool log = false;  // log10 scale (values must be > 0)
  // Tick label for a value; default: num().
  std::function<std::string(double)> tick_label;
  std::vector<double> ticks;  // fixed ticks; empty: computed
};

Axis axis(std::string label, bool log = false) { return {std::move(label), log, {}, {}}; }

// 1-2-5 ticks covering [lo, hi] (linear), or the powers of ten (log).
std::vector<double> ticks_for(double lo, double hi, bool log) {
  std::vector<double> out;
  if (log) {
    for (double p = std::floor(std::log10(lo)); p <= std::ceil(std::log10(hi)); ++p) {
      out.push_back(std::pow(10, p));
    }
    return out;
  }
  double span = hi - lo > 0 ? hi - lo : 1;
  double step = std::pow(10, std::floor(std::log10(span / 5)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (span / (step * m) <= 6) {
      step *= m;
      break;
    }
  }
  // Up to the first tick at or above hi, so the top of the data has a labelled line above it.
  for (double v = std::floor(lo / step) * step;; v += step) {
    out.push_back(v);
    if (v >= hi - step * 1e-9) break;
  }
  return out;
}

// A line chart with markers; the axes fit the data (and the ticks).
std::string chart(const std::string& title, const std::vector<Series>& series, const Axis& x,
                  const Axis& y) {
  constexpr double kW = 760, kH = 320, kLeft = 70, kRight = 170, kTop = 30, kBottom = 45;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : series) {
    for (auto [px, py] : s.points) {
      if (y.log && py <= 0) continue;
      x0 = std::min(x0, px), x1 = std::max(x1, px), y0 = std::min(y0, py), y1 = std::max(y1, py);
    }
  }
  std::string svg = "<figure><figcaption>" + escape(title) + "</figcaption>";
  if (!std::isfinite(x0)) return svg + "<p>No data.</p></figure>\n";
  if (!y.log) y0 = std::min(y0, 0.0);
  std::vector<double> xt = x.ticks.empty() ? ticks_for(x0, x1, x.log) : x.ticks;
  std::vector<double> yt = ticks_for(y0, y1, y.log);
  x0 = std::min(x0, xt.front()), x1 = std::max({x1, xt.back(), x0 + 1e-9});
  y0 = std::min(y0, yt.front()), y1 = std::max({y1, yt.back(), y0 * 1.000001 + 1e-9});
  auto tx = [&](double v) { return kLeft + (kW - kLeft - kRight) * (v - x0) / (x1 - x0); };
  auto ty = [&](double v) {
    double f = y.log ? (std::log10(v) - std::log10(y0)) / (std::log10(y1) - std::log10(y0))
                     : (v - y0) / (y1 - y0);
    return kH - kBottom - (kH - kTop - kBottom) * f;
  };
  auto label = [](const Axis& a, double v) { return a.tick_label ? a.tick_label(v) : num(v); };
  svg += "<svg width=\"" + num(kW) + "\" height=\"" + num(kH) + "\" viewBox=\"0 0 " + num(kW) +
         " " + num(kH) + "\" role=\"img\">";
  for (double v : yt) {
    svg += "<line class=\"grid\" x1=\"" + num(kLeft) + "\" x2=\"" + num(kW - kRight) + "\" y1=\"" +
           num(ty(v)) + "\" y2=\"" + num(ty(v)) + "\"/><text class=\"tick\" x=\"" + num(kLeft - 6) +
           "\" y=\"" + num(ty(v) + 4) + "\" text-anchor=\"end\">" + escape(label(y, v)) + "</text>";
  }
  for (double v : xt) {
    svg += "<line class=\"grid\" y1=\"" + num(kTop) + "\" y2=\"" + num(kH - kBottom) + "\" x1=\"" +
           num(tx(v)) + "\" x2=\"" + num(tx(v)) + "\"/><text class=\"tick\" x=\"" + num(tx(v)) +
           "\" y=\"" + num(kH - kBottom + 16) + "\" text-anchor=\"middle\">" + escape(label(x, v)) +
           "</text>";
  }
  svg += "<text class=\"axis\" x=\"" + num((kLeft + kW - kRight) / 2) + "\" y=\"" + num(kH - 8) +
         "\" text-anchor=\"middle\">" + escape(x.label) + "</text>";
  svg += "<text class=\"axis\" transform=\"translate(16," + num((kTop + kH - kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + escape(y.label) + "</text>";
  for (std::size_t i = 0; i < series.size(); ++i) {
    const char* color = kColors[i % std::size(kColors)];
    std::string pts;
    for (auto [px, py] : series[i].points) {
      if (y.log && py <= 0) continue;
      pts += num(tx(px)) + "," + num(ty(py)) + " ";
      svg += "<circle cx=\"" + num(tx(px)) + "\" cy=\"" + num(ty(py)) + "\" r=\"2.5\" fill=\"" +
             color + "\"/>";
    }
    svg += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" + std::string(color) +
           "\" points=\"" + pts + "\"/>";
    double ly = kTop + 16 * static_cast<double>(i);
    svg += "<rect x=\"" + num(kW - kRight + 12) + "\" y=\"" + num(ly) +
           "\" width=\"12\" height=\"3\" fill=\"" + color + "\"/><text class=\"tick\" x=\"" +
           num(kW - kRight + 30) + "\" y=\"" + num(ly + 5) + "\">" + escape(series[i].name) +
           "</text>";
  }
  return svg + "</svg></figure>\n";
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string rate_label(double r) { return num(r) + " req/s"; }

std::string latency_vs_rate(const std::vector<StepResult>& steps) {
  const std::pair<const char*, double> qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}};
  std::vector<Series> series;
  for (auto [name, q] : qs) {
    Series s{name, {}};
    for (const StepResult& st : steps)
      s.points.push_back({st.offered_rate, ms(st.latencies.quantile(q))});
    series.push_back(s);
  }
  Series mx{"max", {}};
  for (const StepResult& st : steps) mx.points.push_back({st.offered_rate, ms(st.latencies.max())});
  series.push_back(mx);
  return chart("Latency percentiles against offered rate", series, axis("offered rate (req/s)"),
               axis("latency (ms, log scale)", true));
}

std::string over_time(const std::vector<StepResult>& steps) {
  std::vector<Second> all;
  for (const StepResult& s : steps) {
    if (all.size() < s.timeline.size()) all.resize(s.timeline.size());
    for (std::size_t i = 0; i < s.timeline.size(); ++i) {
      all[i].sent += s.timeline[i].sent;
      all[i].ok += s.timeline[i].ok;
      all[i].errors += s.timeline[i].errors;
    }
  }
  Series sent{"sent/s", {}}, ok{"succeeded/s", {}}, errors{"errors/s", {}};
  for (std::size_t i = 0; i < all.size(); ++i) {
    double t = static_cast<double>(i);
    sent.points.push_back({t, static_cast<double>(all[i].sent)});
    ok.points.push_back({t, static_cast<double>(all[i].ok)});
    errors.points.push_back({t, static_cast<double>(all[i].errors)});
  }
  return chart("Throughput and errors over time (per second of the run)", {sent, ok, errors},
               axis("seconds since start"), axis("requests per second"));
}

std::string distribution(const std::vector<StepResult>& steps) {
  // x = log10(1 / (1 - q)): 0 is the median's left end (q = 0), 2 is p99, 4 is p99.99.
  std::vector<Series> series;
  for (const StepResult& st : steps) {
    Series s{rate_label(st.offered_rate), {}};
    for (double x = 0; x <= 4.0001; x += 0.125) {
      double q = 1 - std::pow(10, -x);
      s.points.push_back({x, ms(st.latencies.quantile(q))});
    }
    series.push_back(s);
  }
  Axis x{"percentile",
         false,
         [](double v) {
           static const char* names[] = {"0%", "90%", "99%", "99.9%", "99.99%"};
           int i = static_cast<int>(std::lround(v));
           return std::string(i >= 0 && i <= 4 ? names[i] : "");
         },
         {0, 1, 2, 3, 4}};
  return chart("Latency distribution per step", series, x, axis("latency (ms, log scale)", true));
}

std::string steps_table(const std::vector<StepResult>& steps) {
  std::string t =
      "<table><tr><th>offered req/s</th><th>sent req/s</th><th>requests</th><th>success</th>"
      "<th>p50</th><th>p90</th><th>p99</th><th>max</th><th>send lag p99</th>"
      "<th>generator CPU</th><th>kept</th></tr>";
  for (const StepResult& s : steps) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.2f</td><td>%.2f</td><td>%llu</td><td>%.2f%%", s.offered_rate,
                  s.rate(), static_cast<unsigned long long>(s.requests), 100 * s.success_ratio());
    t += "<tr><td>" + std::string(buf);
    for (double q : {0.5, 0.9, 0.99}) t += "</td><td>" + go_duration(s.latencies.quantile(q));
    t += "</td><td>" + go_duration(s.latencies.max()) + "</td><td>" +
         go_duration(s.send_lag.quantile(0.99)) + "</td><td>";
    std::snprintf(buf, sizeof buf, "%.2f cores", s.cpu_cores());
    t += std::string(buf) + "</td><td>" + (s.kept_rate() ? "yes" : "NO") + "</td></tr>";
  }
  return t + "</table>\n";
}

}  // namespace

std::string html_report(const std::string& title, const std::vector<StepResult>& steps, bool ramp,
                        const RampSummary& summary, const Limits& limits) {
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>spindle-load: " +
      escape(title) +
      "</title><style>body{font:14px sans-serif;margin:24px;color:#222}"
      "figure{margin:16px 0}figcaption{font-weight:bold;margin-bottom:4px}"
      ".grid{stroke:#ddd}.tick{font-size:11px;fill:#444}.axis{font-size:12px;fill:#222}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
      "text-align:right}pre{background:#f6f6f6;padding:8px}</style></head><body>\n<h1>"
      "spindle-load: " +
      escape(title) + "</h1>\n";
  if (ramp) page += "<pre>" + escape(text_summary(steps, summary, limits)) + "</pre>\n";
  page += steps_table(steps);
  page += latency_vs_rate(steps);
  page += over_time(steps);
  page += distribution(steps);
  page += "<h2>Reports</h2>\n";
  for (const StepResult& s : steps) {
    char head[96];
    std::snprintf(head, sizeof head, "<h3>%.2f req/s</h3>\n", s.offered_rate);
    page += head + std::string("<pre>") + escape(text_report(s)) + "</pre>\n";
  }
  return page + "</body></html>\n";
}

}  // namespace spindle::loadgen
