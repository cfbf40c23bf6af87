#include "lb/admin.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "http/chars.h"
#include "lb/backend_url.h"
#include "net/address.h"

namespace spindle::lb {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxBody = 64 * 1024;
const http::Header kJson[] = {{"Content-Type", "application/json"}};

void reply_json(http::ResponseWriter& w, int status, const json& body) {
  (void)w.reply(status, body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", kJson);
}

void reply_error(http::ResponseWriter& w, int status, std::string_view message) {
  reply_json(w, status, json{{"error", message}});
}

// 405 with the Allow header RFC 9110 §15.5.6 requires.
void reply_not_allowed(http::ResponseWriter& w, std::string_view allow, std::string_view message) {
  const http::Header headers[] = {{"Content-Type", "application/json"}, {"Allow", allow}};
  json body{{"error", message}};
  (void)w.reply(405, body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", headers);
}

// The request body as JSON, or the 4xx already answered (nullopt).
std::optional<json> read_json(http::Request& req, http::ResponseWriter& w) {
  // A declared length over the limit is refused before reading: no 100 Continue asks the
  // client to send it.
  const http::BodyFraming framing = http::request_framing(req.head());
  if (framing.kind == http::Framing::kContentLength && framing.length > kMaxBody) {
    reply_error(w, 413, "request body over 64 KiB");
    return std::nullopt;
  }
  std::string body;
  for (;;) {
    auto piece = req.body().next();
    if (!piece) {
      reply_error(w, piece.error().status != 0 ? piece.error().status : 400,
                  piece.error().message());
      return std::nullopt;
    }
    if (piece->empty()) break;
    if (body.size() + piece->size() > kMaxBody) {
      reply_error(w, 413, "request body over 64 KiB");
      return std::nullopt;
    }
    body += *piece;
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    reply_error(w, 400, "malformed JSON: expected {\"url\": \"http://HOST:PORT\"}");
    return std::nullopt;
  }
  if (!j.is_object()) {
    reply_error(w, 400, "expected a JSON object: {\"url\": \"http://HOST:PORT\"}");
    return std::nullopt;
  }
  return j;
}

// The "url" member, parsed; nullopt with the 400 answered.
std::optional<BackendUrl> url_of(const json& j, http::ResponseWriter& w) {
  auto it = j.find("url");
  if (it == j.end() || !it->is_string()) {
    reply_error(w, 400,
                std::string(it == j.end() ? "missing \"url\"" : "\"url\" must be a string") +
                    ": expected {\"url\": \"http://HOST:PORT\"}");
    return std::nullopt;
  }
  auto u = parse_backend_url(it->get<std::string>());
  if (!u) {
    reply_error(w, 400, u.error());
    return std::nullopt;
  }
  return *u;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace

Admin::Admin(Registry& registry, AdminOptions options)
    : registry_(registry), options_(std::move(options)), local_(local_addresses()) {}

bool Admin::authorized(const http::Request& req) const {
  if (options_.token.empty()) return true;
  const http::Header* h = req.headers().find("Authorization");
  // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
  if (h == nullptr || h->value.size() < 7 ||
      !http::chars::iequals(h->value.substr(0, 7), "Bearer ")) {
    return false;
  }
  return equal_constant_time(h->value.substr(7), options_.token);
}

void Admin::serve(http::Request& req, http::ResponseWriter& w, std::string_view p) {
  const bool list_call = p == "/_lb/backends";
  if (!list_call && p != "/_lb/register" && p != "/_lb/heartbeat" && p != "/_lb/deregister") {
    reply_error(w, 404,
                "no such path: the API is POST /_lb/register, /_lb/heartbeat, /_lb/deregister "
                "and GET /_lb/backends");
    return;
  }
  if (list_call && req.method() != http::Method::kGet && req.method() != http::Method::kHead) {
    reply_not_allowed(w, "GET, HEAD", "use GET /_lb/backends");
    return;
  }
  if (!list_call && req.method() != http::Method::kPost) {
    reply_not_allowed(w, "POST", "use POST for " + std::string(p));
    return;
  }
  if (!authorized(req)) {
    const http::Header h[] = {{"Content-Type", "application/json"}, {"WWW-Authenticate", "Bearer"}};
    (void)w.reply(
        401, "{\"error\":\"missing or wrong registration token (Authorization: Bearer)\"}\n", h);
    return;
  }
  if (list_call) {
    list(w);
  } else if (p == "/_lb/register") {
    register_backend(req, w);
  } else if (p == "/_lb/heartbeat") {
    heartbeat(req, w);
  } else {
    deregister(req, w);
  }
}

void Admin::register_backend(http::Request& req, http::ResponseWriter& w) {
  auto j = read_json(req, w);
  if (!j) return;
  auto u = url_of(*j, w);
  if (!u) return;
  std::string name;
  if (auto it = j->find("name"); it != j->end()) {
    auto printable = [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; };
    if (!it->is_string() || it->get_ref<const std::string&>().size() > 256 ||
        !std::all_of(it->get_ref<const std::string&>().begin(),
                     it->get_ref<const std::string&>().end(), printable)) {
      reply_error(w, 400, "\"name\" must be a string of at most 256 bytes, no control characters");
      return;
    }
    name = it->get<std::string>();
  }
  std::optional<int> weight;  // absent: 1 for a new backend, unchanged for a known one
  if (auto it = j->find("weight"); it != j->end()) {
    if (!it->is_number_integer() || it->get<long long>() < 1 || it->get<long long>() > kMaxWeight) {
      reply_error(w, 400, "\"weight\" must be an integer from 1 to 100");
      return;
    }
    weight = it->get<int>();
  }
  auto targets = net::resolve(u->host, u->port);
  if (!targets) {
    reply_error(w, 400,
                "cannot resolve backend host " + u->host + ": " + targets.error().message());
    return;
  }
  if (points_at(*targets, options_.self, local_)) {
    reply_error(w, 400, "backend URL " + u->url + " points at this load balancer (a loop)");
    return;
  }
  RegisterOutcome r = registry_.add(*u, name, weight, false, base::Clock::now());
  if (r == RegisterOutcome::kFull) {
    reply_error(w, 409, "backend limit reached (--max-backends)");
    return;
  }
  auto ms = [](base::Duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  reply_json(w, 200,
             json{{"url", u->url},
                  {"registered", r == RegisterOutcome::kAdded},
                  {"updated", r == RegisterOutcome::kUpdated},
                  {"heartbeat_interval_ms", ms(options_.heartbeat_interval)},
                  {"heartbeat_timeout_ms", ms(registry_.options().heartbeat_timeout)}});
}

void Admin::heartbeat(http::Request& req, http::ResponseWriter& w) {
  auto j = read_json(req, w);
  if (!j) return;
  auto u = url_of(*j, w);
  if (!u) return;
  if (!registry_.heartbeat(u->url, base::Clock::now())) {
    reply_error(w, 404, "unknown backend " + u->url + ": register again");
    return;
  }
  (void)w.reply(204, "");
}

void Admin::deregister(http::Request& req, http::ResponseWriter& w) {
  auto j = read_json(req, w);
  if (!j) return;
  auto u = url_of(*j, w);
  if (!u) return;
  switch (registry_.remove(u->url)) {
    case Registry::RemoveOutcome::kRemoved:
      break;
    case Registry::RemoveOutcome::kUnknown:
      reply_error(w, 404, "unknown backend " + u->url);
      return;
    case Registry::RemoveOutcome::kStatic:
      reply_error(w, 409, u->url + " is a static backend (--backend): it is not deregistered");
      return;
  }
  (void)w.reply(204, "");
}

void Admin::list(http::ResponseWriter& w) {
  json out = json::array();
  for (const BackendStatus& s : registry_.status(base::Clock::now())) {
    out.push_back(json{{"url", s.url},
                       {"name", s.name},
                       {"weight", s.weight},
                       {"static", s.is_static},
                       {"healthy", s.healthy},
                       {"ejected", s.ejected},
                       {"in_flight", s.in_flight},
                       {"requests", s.requests},
                       {"failures", s.failures},
                       {"last_heartbeat_ms_ago", s.last_heartbeat_ms_ago}});
  }
  reply_json(w, 200, out);
}

}  // namespace spindle::lb
