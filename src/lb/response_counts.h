// ResponseCounts: the answers spindle-lb sent, counted by method class and status class, for
// /metrics (spindle_lb_responses_total, spindle_lb_backend_responses_total). The classes are
// small fixed sets, so the counters are fixed arrays: counting one answer is one relaxed
// increment, with no lock, no allocation and no label built on the request path.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/stats.h"
#include "http/message.h"

namespace spindle::lb {

// Method classes, the `method` label: the five common methods by name, every other one
// (PATCH, OPTIONS, TRACE, CONNECT, extension methods) as OTHER.
inline constexpr std::array<std::string_view, 6> kMethodClasses = {"GET", "HEAD",   "POST",
                                                                   "PUT", "DELETE", "OTHER"};
// Status classes, the `code` label. A final status is 200 to 999 (http::ResponseWriter refuses
// the rest); a backend's status of 600 or more is in none of RFC 9110's classes: "other".
inline constexpr std::array<std::string_view, 5> kStatusClasses = {"2xx", "3xx", "4xx", "5xx",
                                                                   "other"};
inline constexpr std::size_t kOtherStatus = kStatusClasses.size() - 1;

// The index of a method's class in kMethodClasses.
std::size_t method_class(http::Method method);
// The index of a status' class in kStatusClasses.
inline std::size_t status_class(int status) {
  const int hundreds = status / 100;
  return hundreds >= 2 && hundreds <= 5 ? static_cast<std::size_t>(hundreds - 2) : kOtherStatus;
}

// Answers by status class. Any thread.
class StatusCounts {
 public:
  using Snapshot = std::array<std::uint64_t, kStatusClasses.size()>;
  void count(int status) { cells_[status_class(status)].add(); }
  Snapshot snapshot() const;
  // Adds another's counts (a backend updated in place keeps its counters). Not atomic as a
  // whole: each cell is added on its own.
  void add(const Snapshot& s);

 private:
  std::array<base::Counter, kStatusClasses.size()> cells_;
};

// Answers by method class and status class. Any thread.
class ResponseCounts {
 public:
  // [method class][status class]
  using Snapshot = std::array<StatusCounts::Snapshot, kMethodClasses.size()>;
  void count(http::Method method, int status) { by_method_[method_class(method)].count(status); }
  Snapshot snapshot() const;

 private:
  std::array<StatusCounts, kMethodClasses.size()> by_method_;
};

}  // namespace spindle::lb
