#include "http/fields.h"

#include <array>

#include "http/chars.h"

namespace spindle::http {

const Header* HeaderList::find(std::string_view name) const {
  for (const Header& h : fields_) {
    if (chars::iequals(h.name, name)) return &h;
  }
  return nullptr;
}

std::size_t HeaderList::count(std::string_view name) const {
  std::size_t n = 0;
  for (const Header& h : fields_) n += chars::iequals(h.name, name) ? 1 : 0;
  return n;
}

bool HeaderList::has_token(std::string_view name, std::string_view token) const {
  for (const Header& h : fields_) {
    if (chars::iequals(h.name, name) && list_contains(h.value, token)) return true;
  }
  return false;
}

TokenList::Iterator::Iterator(std::string_view rest, bool at_end) : rest_(rest), at_end_(at_end) {
  if (!at_end_) ++*this;
}

TokenList::Iterator& TokenList::Iterator::operator++() {
  while (!rest_.empty()) {
    const std::size_t comma = rest_.find(',');
    const std::string_view element = rest_.substr(0, comma);
    rest_ = comma == std::string_view::npos ? std::string_view() : rest_.substr(comma + 1);
    current_ = chars::trim_ows(element);
    if (!current_.empty()) return *this;
  }
  at_end_ = true;
  rest_ = {};
  current_ = {};
  return *this;
}

bool list_contains(std::string_view list, std::string_view token) {
  for (std::string_view t : TokenList(list)) {
    if (chars::iequals(t, token)) return true;
  }
  return false;
}

bool is_hop_by_hop(std::string_view name, const HeaderList& headers) {
  static constexpr std::array<std::string_view, 8> kAlways = {
      "Connection", "Keep-Alive", "Proxy-Connection",  "Proxy-Authorization",
      "TE",         "Trailer",    "Transfer-Encoding", "Upgrade"};
  for (std::string_view h : kAlways) {
    if (chars::iequals(h, name)) return true;
  }
  return headers.has_token("Connection", name);
}

namespace {

// The reason a field value byte is rejected, for the precise 400.
const char* bad_value_byte(char c) {
  if (c == '\r') return "bare CR in field value";
  if (c == '\0') return "NUL in field value";
  return "control character in field value";
}

}  // namespace

const char* parse_field_line(std::string_view line, Header* out) {
  if (line.empty()) return "empty field line";
  if (chars::is_ows(line[0])) return "obs-fold or whitespace before field name";
  std::size_t i = 0;
  while (i < line.size() && chars::is(line[i], chars::kToken)) ++i;
  if (i == line.size()) return "field line without colon";
  if (line[i] != ':') {
    if (chars::is_ows(line[i])) {
      const std::string_view rest = chars::trim_ows(line.substr(i));
      if (!rest.empty() && rest[0] == ':') return "whitespace before colon";
    }
    return "invalid character in field name";
  }
  if (i == 0) return "empty field name";
  out->name = line.substr(0, i);
  std::string_view value = line.substr(i + 1);
  if (!chars::is_field_value(value)) {
    for (char c : value) {
      if (!chars::is(c, chars::kFieldValue)) return bad_value_byte(c);
    }
  }
  out->value = chars::trim_ows(value);
  return nullptr;
}

}  // namespace spindle::http
