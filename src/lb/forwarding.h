// Forwarding fields: the header rewriting a proxy does on the way in and out (RFC 9110 §7.6).
// Order matters: hop-by-hop fields (Connection, the fields it names, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade, Proxy-Authorization, Proxy-Connection) are removed first, and
// only then are X-Forwarded-For/-Proto/-Host and Via added, so a client's
// "Connection: X-Forwarded-For" cannot strip what the proxy adds (CVE-2024-45410).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/fields.h"
#include "net/address.h"

namespace spindle::lb {

inline constexpr std::string_view kVia = "1.1 spindle-lb";

// The rewritten fields of one message: views into the received message plus strings owned
// here. Reused per request; clear() keeps capacity.
struct ForwardedFields {
  std::vector<http::Header> fields;
  std::string forwarded_for;  // the X-Forwarded-For value sent
  std::string via;            // the Via value sent
  char length[24] = {};       // Content-Length digits

  void clear();
};

// The fields sent upstream for a request from client_ip with Host `host` (may be empty):
// end-to-end fields minus any X-Forwarded-For/-Proto/-Host and Via, then
// X-Forwarded-For: <the client's values, in order>, client_ip
// X-Forwarded-Proto: http, X-Forwarded-Host: host, Via: <received>, 1.1 spindle-lb.
void forward_request_fields(const http::HeaderList& in, std::string_view client_ip,
                            std::string_view host, ForwardedFields& out);

// Replaces any X-Request-Id in out.fields by one field with `id` (a view: it must outlive
// the fields).
void set_request_id(ForwardedFields& out, std::string_view id);

// A request target as sent upstream. An absolute-form target ("http://host:port/p?q") names
// the authority, which replaces the Host field (RFC 9112 §3.2.2), and goes upstream in
// origin-form ("/p?q"). Origin-form and asterisk-form targets pass unchanged.
struct UpstreamTarget {
  std::string_view authority;  // empty: not absolute-form (use the Host field)
  std::string origin;          // the target to send (set for absolute-form only)
};
// Errors (a 400 message) for an absolute-form target that is not http(s), has no host, or
// carries userinfo (RFC 9110 §4.2.4).
std::optional<std::string> split_target(std::string_view target, UpstreamTarget& out);

// Whether the message's Transfer-Encoding names a coding other than chunked (gzip, ...): the
// proxy re-frames bodies and would drop that coding, so it refuses such messages (501 for a
// request, 502 for a response), as nginx does.
bool has_other_transfer_coding(const http::HeaderList& fields);

// The fields sent back to the client for a response: end-to-end fields, Via appended, and the
// upstream Content-Length when it framed the body by length (the writer then frames the same).
void forward_response_fields(const http::HeaderList& in,
                             std::optional<std::uint64_t> content_length, ForwardedFields& out);

}  // namespace spindle::lb
