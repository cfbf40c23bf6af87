#include "lb/forwarding.h"

#include <strings.h>

#include <charconv>

#include "http/proxy_fields.h"

namespace spindle::lb {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Appends one more element to a comma-separated list value.
void append_element(std::string& list, std::string_view element) {
  if (!list.empty()) list += ", ";
  list += element;
}

// Removes from `fields` those named `name`, appending their values to the list `joined`
// (nullptr: dropped).
void take(std::vector<http::Header>& fields, std::string_view name, std::string* joined) {
  std::size_t kept = 0;
  for (const http::Header& h : fields) {
    if (!iequals(h.name, name)) {
      fields[kept++] = h;
    } else if (joined != nullptr) {
      append_element(*joined, h.value);
    }
  }
  fields.resize(kept);
}

}  // namespace

void ForwardedFields::clear() {
  fields.clear();
  forwarded_for.clear();
  via.clear();
}

void forward_request_fields(const http::HeaderList& in, std::string_view client_ip,
                            std::string_view host, ForwardedFields& out) {
  out.clear();
  out.fields.reserve(in.size() + 4);
  // Step 1: hop-by-hop removal (append_end_to_end), on the fields as received.
  http::append_end_to_end(in, out.fields);
  // Step 2: collect and drop the fields we rewrite. What a client listed in Connection is
  // already gone; nothing it sent can affect what follows.
  take(out.fields, "X-Forwarded-For", &out.forwarded_for);
  take(out.fields, "Via", &out.via);
  take(out.fields, "X-Forwarded-Proto", nullptr);
  take(out.fields, "X-Forwarded-Host", nullptr);
  // Step 3: add ours.
  append_element(out.forwarded_for, client_ip);
  append_element(out.via, kVia);
  out.fields.push_back({"X-Forwarded-For", out.forwarded_for});
  out.fields.push_back({"X-Forwarded-Proto", "http"});
  if (!host.empty()) out.fields.push_back({"X-Forwarded-Host", host});
  out.fields.push_back({"Via", out.via});
}

void forward_response_fields(const http::HeaderList& in,
                             std::optional<std::uint64_t> content_length, ForwardedFields& out) {
  out.clear();
  out.fields.reserve(in.size() + 2);
  http::append_end_to_end(in, out.fields);
  take(out.fields, "Via", &out.via);
  append_element(out.via, kVia);
  out.fields.push_back({"Via", out.via});
  if (content_length) {
    auto r = std::to_chars(out.length, out.length + sizeof(out.length), *content_length);
    out.fields.push_back({"Content-Length", std::string_view(out.length, r.ptr - out.length)});
  }
}

}  // namespace spindle::lb
