// Forwarding helpers for a proxy (RFC 9110 §7.6): which fields of a received message go on to
// the next hop. The proxy itself lives in src/lb; these are the pieces it needs from http.
#pragma once

#include <vector>

#include "http/fields.h"

namespace spindle::http {

// Appends to `out` every field of `headers` that is end-to-end: not hop-by-hop (is_hop_by_hop,
// which includes the fields the message's Connection lists) and not a framing field the
// writer sets itself (Content-Length, Transfer-Encoding). The views still point into the
// received message's buffer.
void append_end_to_end(const HeaderList& headers, std::vector<Header>& out);

}  // namespace spindle::http
