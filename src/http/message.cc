#include "http/message.h"

#include <array>

namespace spindle::http {
namespace {

constexpr std::array<const char*, 10> kMethodNames = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "other"};

bool connection_keep_alive(const Head& head) {
  if (head.connection_close) return false;
  if (head.version.minor >= 1) return true;
  return head.connection_keep_alive;
}

}  // namespace

const char* to_string(Method method) { return kMethodNames[static_cast<int>(method)]; }

Method method_from_token(std::string_view token) {
  for (int i = 0; i < static_cast<int>(Method::kOther); ++i) {
    if (token == kMethodNames[i]) return static_cast<Method>(i);
  }
  return Method::kOther;
}

bool is_idempotent(Method method) {
  switch (method) {
    case Method::kGet:
    case Method::kHead:
    case Method::kPut:
    case Method::kDelete:
    case Method::kOptions:
    case Method::kTrace:
      return true;
    default:
      return false;
  }
}

const char* to_string(Framing framing) {
  static constexpr std::array<const char*, 5> kNames = {"none", "content-length", "chunked",
                                                        "until-close", "tunnel"};
  return kNames[static_cast<int>(framing)];
}

BodyFraming request_framing(const RequestHead& head) {
  if (head.chunked) return {Framing::kChunked, 0};
  if (head.content_length && *head.content_length > 0) {
    return {Framing::kContentLength, *head.content_length};
  }
  return {Framing::kNone, 0};
}

BodyFraming response_framing(Method request_method, const ResponseHead& head) {
  if (head.status == 101) return {Framing::kTunnel, 0};
  if (request_method == Method::kConnect && head.status / 100 == 2) return {Framing::kTunnel, 0};
  if (request_method == Method::kHead || head.status / 100 == 1 || head.status == 204 ||
      head.status == 304) {
    return {Framing::kNone, 0};
  }
  if (head.has_transfer_encoding) {
    return head.chunked ? BodyFraming{Framing::kChunked, 0} : BodyFraming{Framing::kUntilClose, 0};
  }
  if (head.content_length) {
    if (*head.content_length == 0) return {Framing::kNone, 0};
    return {Framing::kContentLength, *head.content_length};
  }
  return {Framing::kUntilClose, 0};
}

bool keep_alive(const RequestHead& head) { return connection_keep_alive(head); }

bool keep_alive(Method request_method, const ResponseHead& head) {
  const Framing kind = response_framing(request_method, head).kind;
  if (kind == Framing::kUntilClose || kind == Framing::kTunnel) return false;
  return connection_keep_alive(head);
}

}  // namespace spindle::http
