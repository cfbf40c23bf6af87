#include "lb/request_path.h"

#include <vector>

#include "http/chars.h"

namespace spindle::lb {

namespace {

namespace chars = http::chars;

// The path part of an origin- or absolute-form target, without the query.
std::string_view path_part(std::string_view target) {
  if (!target.empty() && target[0] != '/') {
    const std::size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return target;  // "*", authority-form
    const std::size_t start = target.find_first_of("/?#", scheme_end + 3);
    if (start == std::string_view::npos || target[start] != '/') return "/";
    target = target.substr(start);
  }
  return target.substr(0, target.find_first_of("?#"));
}

bool needs_work(std::string_view path) {
  return path.find('%') != std::string_view::npos || path.find("//") != std::string_view::npos ||
         path.find("/.") != std::string_view::npos;
}

}  // namespace

std::string_view normalized_path(std::string_view target, std::string* scratch) {
  const std::string_view path = path_part(target);
  if (path.empty() || path[0] != '/' || !needs_work(path)) return path;
  // Decode the unreserved characters only: "%2F" stays a byte of a segment, not a separator.
  std::string decoded;
  decoded.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size() && chars::is(path[i + 1], chars::kHex) &&
        chars::is(path[i + 2], chars::kHex)) {
      const char c =
          static_cast<char>(chars::hex_value(path[i + 1]) * 16 + chars::hex_value(path[i + 2]));
      if (chars::is(c, chars::kUnreserved)) {
        decoded += c;
        i += 2;
        continue;
      }
    }
    decoded += path[i];
  }
  // Segments, with "." and empty ones dropped and ".." taking the previous one away (never
  // above the root). A path ending in "/", "/." or "/.." keeps its final slash.
  std::vector<std::string_view> segments;
  std::string_view rest = std::string_view(decoded).substr(1);
  bool trailing_slash = false;
  for (;;) {
    const std::size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    if (last) {
      trailing_slash = seg.empty() || seg == "." || seg == "..";
      break;
    }
    rest = rest.substr(slash + 1);
  }
  scratch->clear();
  for (std::string_view seg : segments) {
    *scratch += '/';
    *scratch += seg;
  }
  if (scratch->empty() || trailing_slash) *scratch += '/';
  return *scratch;
}

bool in_api_namespace(std::string_view normalized) {
  return normalized == "/_lb" || normalized.starts_with("/_lb/");
}

}  // namespace spindle::lb
