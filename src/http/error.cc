#include "http/error.h"

namespace spindle::http {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNetwork:
      return "network error";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kParse:
      return "malformed message";
    case ErrorCode::kBodyLength:
      return "body length mismatch";
    case ErrorCode::kCanceled:
      return "canceled";
    case ErrorCode::kClosed:
      return "closed";
    case ErrorCode::kBadArgument:
      return "bad argument";
  }
  return "?";
}

const char* to_string(Phase phase) {
  switch (phase) {
    case Phase::kNone:
      return "none";
    case Phase::kConnect:
      return "connect";
    case Phase::kSendRequest:
      return "sending the request";
    case Phase::kAwaitResponse:
      return "awaiting the response";
    case Phase::kResponseHead:
      return "reading the response head";
    case Phase::kResponseBody:
      return "reading the response body";
  }
  return "?";
}

Error Error::from_net(const net::Error& e, Side side) {
  Error out;
  out.code = e.timeout() ? ErrorCode::kTimeout : ErrorCode::kNetwork;
  out.side = side;
  out.status = side == Side::kUpstream ? (e.timeout() ? 504 : 502) : 0;
  out.detail = e.message();
  return out;
}

Error Error::from_parse(const ParseError& e) {
  Error out;
  out.code = ErrorCode::kParse;
  out.side = e.side;
  out.status = e.status;
  out.detail = e.reason;
  return out;
}

std::string Error::message() const {
  std::string m = to_string(side);
  m += ' ';
  m += to_string(code);
  if (!detail.empty()) {
    m += ": ";
    m += detail;
  }
  return m;
}

}  // namespace spindle::http
