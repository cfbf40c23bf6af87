// The incremental HTTP/1.1 head parser (RFC 9112 §2-§6): start line and header section of a
// request (RequestParser) or a response (ResponseParser), zero-copy, strict. The security
// boundary of the proxy; see docs/http.md ("Head parser") for the protocol and the rules.
//
//   RequestParser p;                      // one per connection, reset() between messages
//   ParseResult r = p.parse(buffered);    // buffered: the message's bytes received so far
//   kNeedMore: append bytes, call again | kDone: p.head() is valid, r.consumed bytes are the
//   head | kError: answer p.error().status and close.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/limits.h"
#include "http/message.h"
#include "http/parse_error.h"

namespace spindle::http {

enum class ParseStatus : std::uint8_t { kNeedMore, kDone, kError };

const char* to_string(ParseStatus status);

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  std::size_t consumed = 0;  // kDone: bytes of the head (start line to the empty line included)
};

// Parses one head of HeadT (RequestHead or ResponseHead). Not thread-safe; owned by the
// connection's goroutine.
//
// Contract of parse(input): `input` starts at the first byte of the message and holds every
// byte received for it so far; each call passes the previous input with bytes appended (the
// buffer may have moved). Work is proportional to the new bytes: the parser remembers where
// its scan stopped, so bytes arriving one at a time cost O(total). Nothing is exposed before
// kDone. After kDone, head() views are valid while the caller leaves those input bytes in place
// and does not call reset(). After kError the parser stays in error.
template <class HeadT>
class BasicHeadParser {
 public:
  explicit BasicHeadParser(const Limits& limits = Limits{});

  ParseResult parse(std::string_view input);
  // Forgets the message, keeping allocated capacity, for the next message on the connection.
  void reset();

  // The parsed head; only after parse() returned kDone (checked).
  const HeadT& head() const;
  // Why parse() returned kError.
  const ParseError& error() const { return error_; }
  // Bytes searched for LF since reset(): equals the input size when nothing was scanned twice.
  std::size_t bytes_scanned_for_test() const { return bytes_scanned_; }

 private:
  // Offsets of a view inside the input (the buffer may move between calls).
  struct Span {
    std::uint32_t begin = 0;
    std::uint32_t size = 0;
  };
  struct FieldSpan {
    Span name;
    Span value;
  };
  enum class State : std::uint8_t { kStartLine, kFields, kDone, kError };

  bool fail(int client_status, const char* reason);
  bool need_more_within_limits(std::size_t size);
  bool on_line(std::string_view input, std::size_t lf);
  bool on_start_line(std::string_view input, std::string_view line);
  bool on_field_line(std::string_view input, std::string_view line);
  bool on_known_field(std::string_view name, std::string_view value);
  bool on_content_length(std::string_view value);
  bool on_transfer_encoding(std::string_view value);
  bool on_end_of_head(std::string_view input);
  bool check_framing();
  Span span_of(std::string_view input, std::string_view part) const;

  Limits limits_;
  State state_ = State::kStartLine;
  std::size_t line_start_ = 0;     // offset of the first byte not yet parsed as a line
  std::size_t scanned_ = 0;        // bytes [0, scanned_) hold no unparsed LF
  std::size_t fields_start_ = 0;   // offset of the header section
  std::size_t consumed_ = 0;       // kDone: head length
  std::size_t bytes_scanned_ = 0;  // see bytes_scanned_for_test()
  Span start_[3];                  // request: method, target; response: reason
  std::vector<FieldSpan> spans_;   // field lines, as offsets
  std::vector<Header> headers_;    // ... as views, filled at kDone
  // Framing facts gathered field by field, checked at the end of the head.
  int host_count_ = 0;
  int chunked_count_ = 0;
  bool unknown_coding_ = false;
  bool unsupported_expectation_ = false;
  HeadT head_;
  ParseError error_;
};

using RequestParser = BasicHeadParser<RequestHead>;
using ResponseParser = BasicHeadParser<ResponseHead>;

extern template class BasicHeadParser<RequestHead>;
extern template class BasicHeadParser<ResponseHead>;

}  // namespace spindle::http
