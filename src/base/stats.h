// Stats: the counters and gauges a component keeps about itself, in one pattern. A component
// declares its stats once, as a family: a struct template over its cells with a static each()
// that lists every field with a metric name and help. The family has two forms: live cells
// (LiveCells: Counter and Gauge, bumped on the hot path with relaxed atomics, no lock, no
// virtual call) and the snapshot its stats() returns (SnapshotCells: plain integers).
// snapshot() copies the one into the other, and for_each_metric() enumerates a snapshot for
// metrics export, both from the same list.
//
//   template <class Cells>
//   struct PoolStatsOf {
//     typename Cells::Counter reuses{};
//     typename Cells::Gauge idle{};
//     template <class F, class... S>
//     static constexpr void each(F&& f, S&&... s) {
//       f(base::MetricInfo{"reuses_total", "requests sent on a pooled connection"}, s.reuses...);
//       f(base::MetricInfo{"idle_connections", "connections in the pool now"}, s.idle...);
//     }
//   };
//   using PoolStats = PoolStatsOf<base::SnapshotCells>;
//   PoolStatsOf<base::LiveCells> stats_;   // stats_.reuses.add(); return base::snapshot(stats_);
//
// A snapshot whose values come from elsewhere (the scheduler's protocol state) is a plain
// struct of std::uint64_t counters and std::int64_t gauges with the same each().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace spindle::base {

enum class MetricKind { kCounter, kGauge };
// "counter", "gauge": the TYPE words of Prometheus' text format.
const char* to_string(MetricKind kind);

// A field's name and one line of help. Names follow Prometheus' conventions, without the
// program's prefix: snake_case, base units spelled out (_bytes, _seconds), and a counter's
// name ends in _total (a gauge's does not).
struct MetricInfo {
  std::string_view name;
  std::string_view help;
};

// A count that only goes up. Any thread; add() is a relaxed fetch_add, the cost of a bare
// std::atomic.
class Counter {
 public:
  void add(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t load() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// A level that goes up and down (connections open, connections idle), or a high-water mark.
// Any thread; relaxed, except through the ordered overloads, for a gauge that a protocol also
// reads (http::Server admits connections against its count of open ones).
class Gauge {
 public:
  void add(std::int64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) { v_.fetch_sub(n, std::memory_order_relaxed); }
  // Raises the gauge to v if it is lower (a peak).
  void raise_to(std::int64_t v) {
    std::int64_t seen = v_.load(std::memory_order_relaxed);
    while (v > seen && !v_.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
    }
  }
  std::int64_t load() const { return v_.load(std::memory_order_relaxed); }

  // The same with an explicit memory order; fetch_add and fetch_sub return the value before.
  std::int64_t fetch_add(std::int64_t n, std::memory_order order) { return v_.fetch_add(n, order); }
  std::int64_t fetch_sub(std::int64_t n, std::memory_order order) { return v_.fetch_sub(n, order); }
  std::int64_t load(std::memory_order order) const { return v_.load(order); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// The two forms of a family.
struct LiveCells {
  using Counter = base::Counter;
  using Gauge = base::Gauge;
};
struct SnapshotCells {
  using Counter = std::uint64_t;
  using Gauge = std::int64_t;
};

// The kind a snapshot field's type stands for.
template <class T>
constexpr MetricKind kind_of() {
  static_assert(std::is_same_v<T, std::uint64_t> || std::is_same_v<T, std::int64_t>,
                "a stats field is a counter (std::uint64_t) or a gauge (std::int64_t)");
  return std::is_same_v<T, std::uint64_t> ? MetricKind::kCounter : MetricKind::kGauge;
}

// How many fields Snapshot::each lists.
template <class Snapshot>
constexpr std::size_t field_count() {
  std::size_t n = 0;
  Snapshot s{};
  Snapshot::each([&n](const MetricInfo&, const auto&) { ++n; }, s);
  return n;
}

// True when each() lists every field of Snapshot: a field left out would be neither copied
// nor exported. (Every field is 8 bytes, so the size tells.)
template <class Snapshot>
constexpr bool each_lists_every_field() {
  return sizeof(Snapshot) == field_count<Snapshot>() * sizeof(std::uint64_t);
}

// Copies every live cell into a snapshot: one relaxed load per field, no lock. Each value is
// exact; together they are not one instant (a counter may move between two loads).
template <template <class> class Family>
Family<SnapshotCells> snapshot(const Family<LiveCells>& live) {
  using Snapshot = Family<SnapshotCells>;
  static_assert(each_lists_every_field<Snapshot>(), "each() must list every field");
  Snapshot out{};
  Snapshot::each([](const MetricInfo&, auto& value, const auto& cell) { value = cell.load(); }, out,
                 live);
  return out;
}

// Adds every field of s to total: a total over several components of one kind (the
// connection pools of all hosts). Gauges add up too (connections idle in all pools).
template <class Snapshot>
void add_to(Snapshot& total, const Snapshot& s) {
  static_assert(each_lists_every_field<Snapshot>(), "each() must list every field");
  Snapshot::each([](const MetricInfo&, auto& sum, const auto& value) { sum += value; }, total, s);
}

// One field of a snapshot, for export.
struct Metric {
  std::string_view name;
  std::string_view help;
  MetricKind kind;
  // Prometheus' sample type: integers are exact up to 2^53.
  double value;
};

// Calls fn(const Metric&) for every field of a snapshot, in each()'s order.
template <class Snapshot, class Fn>
void for_each_metric(const Snapshot& s, Fn&& fn) {
  static_assert(each_lists_every_field<Snapshot>(), "each() must list every field");
  Snapshot::each(
      [&fn](const MetricInfo& info, const auto& value) {
        using T = std::remove_cvref_t<decltype(value)>;
        fn(Metric{info.name, info.help, kind_of<T>(), static_cast<double>(value)});
      },
      s);
}

}  // namespace spindle::base
