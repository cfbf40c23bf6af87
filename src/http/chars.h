// Character classes of RFC 9110/9112 and RFC 3986 (token, field value, target, hex digits,
// unreserved) as one 256-entry table, hex digit values, and ASCII case-insensitive comparison.
// The parser, the body decoder, the message helpers and the balancer's path normalisation
// classify bytes only through these.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace spindle::http::chars {

enum Class : std::uint8_t {
  kToken = 1 << 0,       // tchar: field names, methods, transfer codings
  kFieldValue = 1 << 1,  // field-vchar, SP, HTAB: a field value or reason phrase
  kTarget = 1 << 2,      // VCHAR: request-target (no SP, no CTL, no DEL, no obs-text)
  kHex = 1 << 3,         // HEXDIG: chunk sizes
  kDigit = 1 << 4,       // DIGIT
  kQuoted = 1 << 5,      // qdtext: inside a quoted-string (chunk extension values)
  kHost = 1 << 6,        // reg-name, IP-literal and port characters of a Host value
  kUnreserved = 1 << 7,  // RFC 3986 unreserved: ALPHA, DIGIT, "-", ".", "_", "~"
};

constexpr std::array<std::uint8_t, 256> make_table() {
  std::array<std::uint8_t, 256> t{};
  constexpr std::string_view kTokenPunct = "!#$%&'*+-.^_`|~";
  constexpr std::string_view kHostPunct = "-._~!$&'()*+,;=:[]%";
  for (int c = 0; c < 256; ++c) {
    std::uint8_t f = 0;
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    const bool vchar = c >= 0x21 && c <= 0x7e;
    if (alpha || digit || kTokenPunct.find(static_cast<char>(c)) != std::string_view::npos) {
      f |= kToken;
    }
    if (vchar || c >= 0x80 || c == ' ' || c == '\t') f |= kFieldValue;
    if (vchar) f |= kTarget;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) f |= kHex;
    if (digit) f |= kDigit;
    if ((vchar && c != '"' && c != '\\') || c >= 0x80 || c == ' ' || c == '\t') f |= kQuoted;
    if (alpha || digit || kHostPunct.find(static_cast<char>(c)) != std::string_view::npos) {
      f |= kHost;
    }
    if (alpha || digit || c == '-' || c == '.' || c == '_' || c == '~') f |= kUnreserved;
    t[c] = f;
  }
  return t;
}

inline constexpr std::array<std::uint8_t, 256> kTable = make_table();

constexpr bool is(char c, Class cls) { return kTable[static_cast<unsigned char>(c)] & cls; }

// The value of a hex digit (0-15), -1 for any other byte.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// True when every byte of s is in cls (true for an empty s).
constexpr bool all_of(std::string_view s, Class cls) {
  for (char c : s) {
    if (!is(c, cls)) return false;
  }
  return true;
}

// all_of(s, kFieldValue), eight bytes at a time: a word with no byte below 0x20 and none equal
// to 0x7f (DEL) is all field-vchar/SP; only a word that has one is checked byte by byte (HTAB).
inline bool is_field_value(std::string_view s) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    const std::uint64_t below_space = (x - kOnes * 0x20) & ~x & kHighs;
    const std::uint64_t y = x ^ (kOnes * 0x7f);
    const std::uint64_t del = (y - kOnes) & ~y & kHighs;
    if ((below_space | del) != 0 && !all_of(s.substr(i, 8), kFieldValue)) return false;
  }
  return all_of(s.substr(i), kFieldValue);
}

constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// ASCII case-insensitive equality (field names, tokens, codings are case-insensitive).
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

// s without leading and trailing SP/HTAB.
constexpr std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace spindle::http::chars
