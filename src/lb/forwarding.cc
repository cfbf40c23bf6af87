#include "lb/forwarding.h"

#include <strings.h>

#include <charconv>

#include "http/chars.h"
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

void set_request_id(ForwardedFields& out, std::string_view id) {
  take(out.fields, "X-Request-Id", nullptr);
  out.fields.push_back({"X-Request-Id", id});
}

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

bool has_other_transfer_coding(const http::HeaderList& fields) {
  for (const http::Header& h : fields) {
    if (!http::chars::iequals(h.name, "Transfer-Encoding")) continue;
    std::string_view v = h.value;
    while (!v.empty()) {
      const std::size_t comma = v.find(',');
      std::string_view coding = http::chars::trim_ows(v.substr(0, comma));
      coding = http::chars::trim_ows(coding.substr(0, coding.find(';')));
      if (!coding.empty() && !http::chars::iequals(coding, "chunked")) return true;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::optional<std::string> split_target(std::string_view target, UpstreamTarget& out) {
  out.authority = {};
  out.origin.clear();
  if (target.empty() || target[0] == '/' || target == "*") return std::nullopt;
  const std::size_t colon = target.find(':');
  const std::string_view scheme =
      colon == std::string_view::npos ? std::string_view() : target.substr(0, colon);
  if ((!http::chars::iequals(scheme, "http") && !http::chars::iequals(scheme, "https")) ||
      target.substr(colon + 1, 2) != "//") {
    return std::string("absolute-form request target must be http://HOST/PATH");
  }
  std::string_view rest = target.substr(colon + 3);
  const std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty()) return std::string("absolute-form request target has no host");
  if (authority.find('@') != std::string_view::npos) {
    return std::string("request target must not carry user information");
  }
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  path = path.substr(0, path.find('#'));
  // Built with assign/insert: GCC 12 reports a false -Wrestrict for "/" + append here.
  out.origin.assign(path.begin(), path.end());
  if (path.empty() || path[0] != '/') out.origin.insert(out.origin.begin(), '/');
  out.authority = authority;
  return std::nullopt;
}

}  // namespace spindle::lb
