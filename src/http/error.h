// http::Error and http::Result<T>: how the HTTP server and client report failures, as values
// (STYLE.md, "Errors"): a code, the side at fault (client, upstream, internal), whether a retry
// on a fresh connection may succeed, the HTTP status that answers it, a detail message, and for
// the client's exchanges the phase they failed in (what was sent, what came back), from which
// a proxy decides what to do next (lb/failure_policy.h) without reading any text.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "http/parse_error.h"
#include "net/error.h"

namespace spindle::http {

enum class ErrorCode : std::uint8_t {
  kNetwork,      // a read, write or dial failed (reset, refused, closed by the peer)
  kTimeout,      // a deadline passed: header read, idle, write, dial, response header
  kParse,        // the peer's bytes broke HTTP/1.1 (status and reason from the parser)
  kBodyLength,   // the body written differs from the Content-Length declared
  kCanceled,     // the request was cancelled (its client went away)
  kClosed,       // the server or pool is shut down
  kBadArgument,  // the caller's mistake: a header with CR/LF, a second write_header
};
const char* to_string(ErrorCode code);

// Where an exchange of the HTTP client failed (model: the connect / read / write error types of
// cloudflare/pingora's pingora-error). Together with the code (kTimeout, kNetwork, kParse, ...)
// it says what may follow: before any byte was sent the request may go anywhere; before any
// byte of the response came back an idempotent request may be sent again; after that, nothing.
enum class Phase : std::uint8_t {
  kNone,           // not an exchange of the client (the server's errors, a cancelled request)
  kConnect,        // dialling: refused, unreachable, timed out; nothing was sent
  kSendRequest,    // writing the request head or body; no byte of the response arrived
  kAwaitResponse,  // the request went out (or its body is still being written); no byte back
  kResponseHead,   // part of the response head (or an interim 1xx) arrived, or it was malformed
  kResponseBody,   // the response head arrived; its body failed (read, framing, timeout)
};
const char* to_string(Phase phase);
// Whether nothing of the response had arrived when it failed.
constexpr bool before_response(Phase p) {
  return p == Phase::kConnect || p == Phase::kSendRequest || p == Phase::kAwaitResponse;
}

struct Error {
  ErrorCode code = ErrorCode::kNetwork;
  Side side = Side::kInternal;
  // Whether the request may be sent again on a new connection with the same outcome as if
  // this attempt had never happened: nothing of the response was received.
  bool retryable = false;
  int status = 0;      // the status that answers this error (400.., 502, 504), 0 if none
  std::string detail;  // "read 127.0.0.1:8080: connection reset by peer"
  Phase phase = Phase::kNone;

  static Error from_net(const net::Error& e, Side side);
  static Error from_parse(const ParseError& e);
  std::string message() const;  // "upstream network error: read ...: connection reset by peer"
};

template <typename T>
using Result = base::Result<T, Error>;

}  // namespace spindle::http
