// ParseError: why the HTTP parser or body decoder rejected a message, as a value (STYLE.md,
// "Errors"): the status to answer with, a short fixed reason, and which peer was at fault.
// Requests rejected answer 400/414/431/501/505/417; a malformed upstream response is a 502.
#pragma once

#include <cstdint>

namespace spindle::http {

// Which side sent the bytes that were rejected.
enum class Side : std::uint8_t {
  kClient,    // a request from a downstream client
  kUpstream,  // a response from a backend
  kInternal,  // neither peer: this process (a timeout it chose, a misuse, shutdown)
};

const char* to_string(Side side);

struct ParseError {
  // The status the proxy answers with: 4xx/5xx for a client's request, 502 for a backend's
  // response. 0 means "no error".
  int status = 0;
  // A static, lower-case phrase naming the rule broken ("bare CR in field value"); never freed.
  const char* reason = "";
  Side side = Side::kClient;

  bool ok() const { return status == 0; }
  // Parse errors are never retryable on the same connection: the framing is lost, close it.
  static constexpr bool kRetryable = false;
};

// The error for `side`: a client gets `client_status`, an upstream failure is always a 502.
constexpr ParseError make_error(Side side, int client_status, const char* reason) {
  return ParseError{side == Side::kUpstream ? 502 : client_status, reason, side};
}

}  // namespace spindle::http
