// The parsed head of a request or response, and the message semantics a proxy needs from it
// (RFC 9110, RFC 9112 §6 and §9): the method and whether it is idempotent, keep-alive,
// Expect: 100-continue, and how the body is framed. Heads are produced by head_parser.h; every
// view in them points into the caller's connection buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/fields.h"

namespace spindle::http {

enum class Method : std::uint8_t {
  kGet,
  kHead,
  kPost,
  kPut,
  kDelete,
  kConnect,
  kOptions,
  kTrace,
  kPatch,
  kOther,  // any other token: forwarded as is
};

const char* to_string(Method method);
// The Method for a method token (case-sensitive, RFC 9110 §9.1); kOther for any other.
Method method_from_token(std::string_view token);
// GET, HEAD, PUT, DELETE, OPTIONS, TRACE (RFC 9110 §9.2.2): a proxy may retry these.
bool is_idempotent(Method method);

// HTTP/major.minor. The parser accepts major 1 only; a minor above 1 is read as 1.1.
struct Version {
  int major = 1;
  int minor = 1;
};

// Fields common to requests and responses. The framing facts are checked by the parser: a head
// it returns never has conflicting Content-Length values, nor both lengths in a request.
struct Head {
  Version version;
  HeaderList headers;
  std::optional<std::uint64_t> content_length;  // the (agreed) Content-Length, if any
  bool has_transfer_encoding = false;           // a Transfer-Encoding field was present
  bool chunked = false;                         // ... and its final coding is chunked
  bool connection_close = false;                // Connection lists "close"
  bool connection_keep_alive = false;           // Connection lists "keep-alive"
  bool connection_upgrade = false;              // Connection lists "upgrade"
};

struct RequestHead : Head {
  Method method = Method::kGet;
  std::string_view method_token;  // as received: "GET", "PROPFIND"
  std::string_view target;        // request-target as received
  bool expect_continue = false;   // HTTP/1.1 with Expect: 100-continue
};

struct ResponseHead : Head {
  int status = 0;
  std::string_view reason;  // may be empty
};

// How the body after a head is delimited (RFC 9112 §6.3).
enum class Framing : std::uint8_t {
  kNone,           // no body: message ends with the head
  kContentLength,  // exactly `length` bytes
  kChunked,        // chunked transfer coding; ends with the last chunk and trailers
  kUntilClose,     // response only: the body ends when the upstream closes the connection
  kTunnel,         // 101 or 2xx to CONNECT: the connection becomes an opaque byte stream
};

const char* to_string(Framing framing);

struct BodyFraming {
  Framing kind = Framing::kNone;
  std::uint64_t length = 0;  // kContentLength only
};

// A request's body: chunked, else Content-Length, else none.
BodyFraming request_framing(const RequestHead& head);
// A response's body, which depends on the request it answers: none for HEAD, 1xx, 204 and 304;
// a tunnel for 101 and for 2xx to CONNECT; then chunked, Content-Length, or until close.
BodyFraming response_framing(Method request_method, const ResponseHead& head);

// Whether the client wants the connection kept open after this request: HTTP/1.1 unless
// "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
bool keep_alive(const RequestHead& head);
// Whether the upstream connection can carry another request after this response: as above,
// and never when the body runs until close or the connection became a tunnel.
bool keep_alive(Method request_method, const ResponseHead& head);

// Whether the client waits for "100 Continue" before sending the body (HTTP/1.1 only; the
// parser answers any other expectation with 417).
inline bool expect_continue(const RequestHead& head) { return head.expect_continue; }

}  // namespace spindle::http
