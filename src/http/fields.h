// Header fields (RFC 9110 §5): a field as two views into the connection's buffer, a list of
// them with case-insensitive lookup, comma-separated token lists, the field-line syntax shared by
// the header and trailer sections, and the hop-by-hop set a proxy strips before forwarding.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace spindle::http {

// One field line. Both views point into the buffer the message was parsed from; the value has
// its leading and trailing whitespace removed.
struct Header {
  std::string_view name;
  std::string_view value;
};

// The fields of one section in the order received. A view: it owns nothing.
class HeaderList {
 public:
  HeaderList() = default;
  explicit HeaderList(std::span<const Header> fields) : fields_(fields) {}

  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  const Header& operator[](std::size_t i) const { return fields_[i]; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

  // The first field named `name` (case-insensitive), or nullptr.
  const Header* find(std::string_view name) const;
  // How many fields are named `name`.
  std::size_t count(std::string_view name) const;
  // True when any field named `name` lists `token` (case-insensitive) in its comma-separated
  // value, e.g. has_token("Connection", "close").
  bool has_token(std::string_view name, std::string_view token) const;

 private:
  std::span<const Header> fields_;
};

// The elements of a comma-separated list (RFC 9110 §5.6.1), whitespace trimmed, empty elements
// skipped: for (std::string_view t : TokenList(value)) ...
class TokenList {
 public:
  explicit TokenList(std::string_view value) : value_(value) {}

  class Iterator {
   public:
    Iterator(std::string_view rest, bool at_end);
    std::string_view operator*() const { return current_; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return at_end_ == o.at_end_ && rest_ == o.rest_; }

   private:
    std::string_view rest_;
    std::string_view current_;
    bool at_end_;
  };

  Iterator begin() const { return Iterator(value_, false); }
  Iterator end() const { return Iterator({}, true); }

 private:
  std::string_view value_;
};

// True when `list` (a comma-separated field value) contains `token`, case-insensitively.
bool list_contains(std::string_view list, std::string_view token);

// True for the fields that describe one connection and that a proxy must not forward (RFC 9110
// §7.6.1): Connection, Keep-Alive, Proxy-Connection, Proxy-Authorization, TE, Trailer,
// Transfer-Encoding, Upgrade, and any field the message's Connection fields name.
bool is_hop_by_hop(std::string_view name, const HeaderList& headers);

// Splits one field line (CRLF removed) into name and trimmed value, checking RFC 9112 §5: the
// name is a token directly followed by ':' (no whitespace before the colon), the value holds no
// CR, LF, NUL or other control character, and the line does not start with whitespace
// (obs-fold). Returns nullptr on success, else the static reason for the 400.
const char* parse_field_line(std::string_view line, Header* out);

}  // namespace spindle::http
