// Time for every layer: the monotonic clock with its time points and one duration type, Go's
// duration syntax ("1h2m3.5s") for flags and logs, and a manual clock for tests. The runtime's
// timers (runtime/time.h), socket deadlines (net/conn.h) and the balancer's expiry
// (lb/registry.h) all take these types.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/result.h"

namespace spindle::base {

// The monotonic clock (CLOCK_MONOTONIC): deadlines, timeouts, ages, latencies. The wall clock
// is for what people read (log timestamps), never for measuring.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
// Signed nanoseconds: every timeout, interval and latency.
using Duration = std::chrono::nanoseconds;
static_assert(std::is_same_v<Clock::duration, Duration>, "the clock must tick in nanoseconds");

// Nanoseconds since the clock's epoch, for atomics and heap keys, and back.
constexpr std::int64_t to_ns(TimePoint t) { return t.time_since_epoch().count(); }
constexpr TimePoint from_ns(std::int64_t ns) { return TimePoint(Duration(ns)); }

// Go's time.ParseDuration: an optional sign, then one or more decimal numbers, each with an
// optional fraction and a unit: "300ms", "-1.5h", "2h45m", "1µs". Units: ns, us (µs, μs), ms,
// s, m, h; "0" alone needs none. The error says what is wrong ("missing unit in duration
// \"3\" ...", "unknown unit \"x\" in duration \"3x\"", "duration ... overflows").
Result<Duration, std::string> parse_duration(std::string_view text);

// Go's Duration.String: "1h2m3.5s", "300ms", "1.5µs", "-1h30m0s", "0s". parse_duration reads
// every result back to the same value.
std::string format_duration(Duration d);

// A clock that moves only when a test moves it, for code that takes the time as a value (a
// TimePoint argument, as lb::Registry does): the test reads now() where the code would read
// Clock::now(), and advances it instead of sleeping. Any thread may read it while one moves it.
class ManualClock {
 public:
  // Starts at the steady clock's current time, so its time points compare sensibly with real
  // ones (and are never the zero time point, which some code uses as "never").
  ManualClock() : ManualClock(Clock::now()) {}
  explicit ManualClock(TimePoint start) : ns_(to_ns(start)) {}

  TimePoint now() const { return from_ns(ns_.load(std::memory_order_acquire)); }
  // Moves the time forward by d (d >= 0; the clock is monotonic like the one it stands for).
  void advance(Duration d);

 private:
  std::atomic<std::int64_t> ns_;
};

}  // namespace spindle::base
