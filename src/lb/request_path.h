// The path of a request target as the balancer routes on it: whether a request is for the
// registration API or for a backend is decided once, on this form, so no other spelling of
// an API path (absolute-form, dot segments, percent-encoding) slips past the API to a
// backend. Used by Balancer::handle; design: docs/lb.md, "The API's paths".
#pragma once

#include <string>
#include <string_view>

namespace spindle::lb {

// The normalised path of `target` (origin-form or absolute-form; no query): the path of an
// absolute-form target, percent-encoded unreserved characters decoded (RFC 3986 §6.2.2.2),
// empty segments merged and dot segments removed (§5.2.4). Anything else (an asterisk- or
// authority-form target) comes back as it is. A view of target when nothing changes (the
// common case: no allocation), else of *scratch.
std::string_view normalized_path(std::string_view target, std::string* scratch);

// Whether a normalised path is in the balancer's namespace "/_lb" (the API's paths and
// whatever else is under it: answered by the API, never proxied).
bool in_api_namespace(std::string_view normalized);

}  // namespace spindle::lb
