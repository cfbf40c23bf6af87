// What the debug listener's pages share: their plain-text content type and how they read the
// request target's query.
#pragma once

#include <optional>
#include <string_view>

#include "http/fields.h"

namespace spindle::debug {

inline const http::Header kText[] = {{"Content-Type", "text/plain; charset=utf-8"}};

// The query of a request target ("" when it has none): "/debug/pprof/trace?seconds=2" ->
// "seconds=2".
inline std::string_view query_of(std::string_view target) {
  const size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// The value of `key` in a query ("a=1&debug=2"): "" for a key without "=", nullopt when the key
// is absent. No percent-decoding: the pages' values are numbers.
inline std::optional<std::string_view> query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = item.find('=');
    if (item.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    }
  }
  return std::nullopt;
}

}  // namespace spindle::debug
