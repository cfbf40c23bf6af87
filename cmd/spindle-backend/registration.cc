#include "registration.h"

#include <nlohmann/json.hpp>

#include "runtime/select.h"
#include "runtime/time.h"

namespace spindle::backend {
namespace {

using namespace std::chrono_literals;

http::ClientOptions client_options() {
  http::ClientOptions o;
  o.max_idle_per_host = 2;
  o.dial_timeout = 1s;
  o.response_header_timeout = 2s;
  o.body_read_timeout = 2s;
  o.write_timeout = 2s;
  o.idle_timeout = 1s;  // below any LB's server idle timeout: heartbeats redial if needed
  return o;
}

// Parks until `d` passed (false) or `stop` closed (true).
bool wait_or_stop(runtime::Chan<bool>& stop, std::chrono::milliseconds d) {
  runtime::Timer timer(d);
  bool stopped = false;
  runtime::select(runtime::on_recv(stop, [&](std::optional<bool>) { stopped = true; }),
                  runtime::on_recv(timer.c(), [](std::optional<base::TimePoint>) {}));
  return stopped;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

base::Result<std::string, UrlError> lb_address(std::string_view url) {
  using R = base::Result<std::string, UrlError>;
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return R(UrlError{"--lb must start with http://"});
  std::string_view rest = url.substr(kScheme.size());
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos ||
      rest.find(':') == std::string_view::npos) {
    return R(UrlError{"--lb must be http://HOST:PORT"});
  }
  return R(std::string(rest));
}

Registration::Registration(RegistrationOptions options)
    : options_(std::move(options)), client_(client_options()) {}

void Registration::note(base::log::Level level, const std::string& what) {
  base::log::write(level, options_.name + ": " + what);
}

http::Result<Registration::Reply> Registration::post(std::string_view path,
                                                     const std::string& json) {
  std::string auth = "Bearer " + options_.token;
  http::Header fields[] = {{"Content-Type", "application/json"}, {"Authorization", auth}};
  http::StringBody body(json);
  http::ClientRequest req;
  req.method = http::Method::kPost;
  req.target = path;
  req.headers = std::span<const http::Header>(fields, options_.token.empty() ? 1 : 2);
  req.body = &body;
  req.content_length = json.size();
  auto resp = client_.send(options_.lb, req);
  if (!resp) return resp.error();
  Reply reply{resp->status(), {}};
  for (;;) {
    auto piece = resp->body().next();
    if (!piece) return piece.error();
    if (piece->empty()) break;
    if (reply.body.size() < 64 * 1024) reply.body.append(*piece);
  }
  return reply;
}

base::Result<std::chrono::milliseconds, std::string> Registration::register_once() {
  using R = base::Result<std::chrono::milliseconds, std::string>;
  nlohmann::json j = {{"url", options_.advertise}, {"name", options_.name}};
  auto reply = post("/_lb/register", j.dump());
  if (!reply) return R("register: " + reply.error().message());
  if (reply->status != 200) {
    return R("register: status " + std::to_string(reply->status) + ": " + trimmed(reply->body));
  }
  auto parsed = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("heartbeat_interval_ms") ||
      !parsed["heartbeat_interval_ms"].is_number() ||
      parsed["heartbeat_interval_ms"].get<double>() <= 0) {
    return R("register: no heartbeat_interval_ms in the reply: " + trimmed(reply->body));
  }
  return R(std::chrono::milliseconds(
      static_cast<std::int64_t>(parsed["heartbeat_interval_ms"].get<double>())));
}

void Registration::run(runtime::Chan<bool> stop) {
  std::chrono::milliseconds backoff = kBackoffMin, interval{0};
  bool registered = false;
  for (;;) {
    std::chrono::milliseconds wait = interval;
    if (!registered) {
      auto r = register_once();
      if (r) {
        registered = ever_registered_ = true;
        interval = wait = *r;
        backoff = kBackoffMin;
        note(base::log::Level::kInfo, "registered with " + options_.lb + " as " +
                                          options_.advertise + ", heartbeat every " +
                                          std::to_string(interval.count()) + "ms");
      } else {
        wait = backoff;
        note(base::log::Level::kWarn,
             r.error() + "; retrying in " + std::to_string(backoff.count()) + "ms");
        backoff = std::min(backoff * 2, kBackoffMax);
      }
    } else {
      nlohmann::json j = {{"url", options_.advertise}};
      auto reply = post("/_lb/heartbeat", j.dump());
      if (!reply) {
        note(base::log::Level::kWarn, "heartbeat: " + reply.error().message());
      } else if (reply->status == 404) {
        note(base::log::Level::kWarn,
             "heartbeat: 404 (the LB does not know us): registering again");
        registered = false;
        continue;
      } else if (reply->status / 100 != 2) {
        note(base::log::Level::kWarn,
             "heartbeat: status " + std::to_string(reply->status) + ": " + trimmed(reply->body));
      }
    }
    if (wait_or_stop(stop, wait)) return;
  }
}

void Registration::deregister() {
  if (!ever_registered_) return;
  nlohmann::json j = {{"url", options_.advertise}};
  auto reply = post("/_lb/deregister", j.dump());
  if (!reply) {
    note(base::log::Level::kWarn, "deregister: " + reply.error().message());
  } else if (reply->status / 100 != 2) {
    note(base::log::Level::kWarn,
         "deregister: status " + std::to_string(reply->status) + ": " + trimmed(reply->body));
  } else {
    note(base::log::Level::kInfo, "deregistered from " + options_.lb);
  }
}

}  // namespace spindle::backend
