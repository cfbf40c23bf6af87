// BodyDecoder: finds the body of one message after its head (RFC 9112 §6 and §7), by
// Content-Length, chunked transfer coding (extensions, trailers) or connection close. Incremental
// and zero-copy: it returns views of body data inside the input, and reports the exact end of
// the message so the next pipelined message starts at the right byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/limits.h"
#include "http/message.h"
#include "http/parse_error.h"

namespace spindle::http {

enum class DecodeStatus : std::uint8_t {
  kNeedMore,  // append bytes and call again
  kData,      // `data` is a piece of the body; call again with the rest of the input
  kDone,      // the message ended; the input after `consumed` belongs to the next message
  kError,     // error(): answer it (or 502 upstream) and close the connection
};

const char* to_string(DecodeStatus status);

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  // Bytes of the input used by this call, framing included. The caller always drops them
  // before the next call (they may be forwarded verbatim: they have been checked).
  std::size_t consumed = 0;
  std::string_view data;  // kData: body bytes, a view inside the input
  // kDone of a chunked body: the trailer field lines, each with its CRLF, without the final
  // empty line; checked like header fields. Empty when there are none.
  std::string_view trailers;
};

// Decodes one body. Not thread-safe; owned by the connection's goroutine.
//
// Contract of decode(input): `input` starts at the first byte not yet consumed (after the head
// on the first call) and ends at the last byte received. Bytes arriving one at a time cost
// O(total): a partial chunk-size line or trailer section is not consumed, but its scan position
// is remembered. Views are valid while the caller keeps those input bytes in place.
class BodyDecoder {
 public:
  // `side` says who sends the body, and so which status an error carries.
  BodyDecoder(BodyFraming framing, Side side, const Limits& limits = Limits{});

  DecodeResult decode(std::string_view input);
  // The peer closed the connection: ends an until-close body (kDone), anything unfinished is
  // an error ("connection closed before end of body").
  DecodeResult finish_at_eof();

  bool done() const { return state_ == State::kDone; }
  const ParseError& error() const { return error_; }

 private:
  enum class State : std::uint8_t {
    kLength,        // Content-Length: remaining_ bytes to go
    kChunkLine,     // expecting chunk-size [extensions] CRLF
    kChunkData,     // remaining_ bytes of chunk data to go
    kChunkDataEnd,  // expecting the CRLF after chunk data
    kTrailers,      // after the last chunk: trailer field lines, then CRLF
    kUntilClose,
    kDone,
    kError,
  };

  DecodeResult fail(int client_status, const char* reason);
  DecodeResult need_more(std::size_t consumed, std::size_t size);
  DecodeResult decode_chunked(std::string_view input);
  // Parses one chunk-size line [0, lf) of `line` (CR included); returns nullptr or the reason.
  const char* on_chunk_line(std::string_view line);
  // Scans the trailer section starting at `start`; kDone, kNeedMore or kError.
  DecodeResult on_trailers(std::string_view input, std::size_t start);

  State state_;
  Side side_;
  Limits limits_;
  std::uint64_t remaining_ = 0;
  // For a partial line (kChunkLine, kTrailers), kept from a kNeedMore to the next call, whose
  // input starts where that partial line or trailer section starts:
  std::size_t scanned_ = 0;        // bytes known to hold no unparsed LF
  std::size_t line_start_ = 0;     // kTrailers: first line not yet checked
  std::size_t trailer_count_ = 0;  // kTrailers: field lines checked so far
  ParseError error_;
};

}  // namespace spindle::http
