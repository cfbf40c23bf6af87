// Transcript: what a connection makes of a byte stream, message by message, when it reads it
// with RequestParser/ResponseParser and BodyDecoder the way a server would (a growable buffer
// that moves on every read). Test support for the unit, fuzz and differential tests: two ways
// of delivering the same bytes must give equal transcripts.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "http/limits.h"
#include "http/message.h"
#include "http/parse_error.h"

namespace spindle::http::testing {

struct MessageRecord {
  std::size_t head_end = 0;  // stream offset just past the head
  std::size_t end = 0;       // stream offset just past the message
  std::string head;          // the parsed head, rendered (start line, fields, framing facts)
  std::string body;          // decoded body bytes
  std::string trailers;      // raw trailer field lines of a chunked body
};

enum class StreamEnd {
  kClean,       // every byte belongs to a complete message
  kIncomplete,  // the stream stopped inside a message
  kError,       // a message was rejected: `error`
  kTunnel,      // a 101 / CONNECT 2xx turned the rest into an opaque stream
};

struct Transcript {
  std::vector<MessageRecord> messages;
  StreamEnd end = StreamEnd::kClean;
  ParseError error;
  std::size_t error_at = 0;  // stream offset where the message that ended the stream starts

  std::string to_string() const;
};

struct StreamOptions {
  bool requests = true;                  // false: responses
  Method request_method = Method::kGet;  // responses answer requests of this method
  std::vector<std::size_t> cuts;         // bytes arrive in pieces ending at these offsets
  std::size_t piece = 0;                 // ... or `piece` bytes at a time (0: all at once)
  std::size_t max_messages = 64;
  Limits limits;
};

// Reads `bytes` as a stream of messages; the peer closes after the last byte.
Transcript read_stream(std::string_view bytes, const StreamOptions& options);

// The parsed head as one line per item, for comparisons and failure messages.
std::string describe(const RequestHead& head);
std::string describe(const ResponseHead& head);

}  // namespace spindle::http::testing
