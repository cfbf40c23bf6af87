#include "http/proxy_fields.h"

#include "http/wire_format.h"

namespace spindle::http {

void append_end_to_end(const HeaderList& headers, std::vector<Header>& out) {
  for (const Header& h : headers) {
    if (is_hop_by_hop(h.name, headers) || is_framing_field(h.name)) continue;
    out.push_back(h);
  }
}

}  // namespace spindle::http
