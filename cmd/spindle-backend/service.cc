#include "service.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>

#include "runtime/time.h"

namespace spindle::backend {
namespace {

constexpr std::size_t kPiece = 64 * 1024;

// A uniform double in [0, 1) from a shared counter (splitmix64): lock-free, any goroutine.
double next_uniform(std::atomic<std::uint64_t>& state) {
  std::uint64_t z = state.fetch_add(0x9e3779b97f4a7c15, std::memory_order_relaxed);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, std::min(target.find('?'), target.size()));
}

}  // namespace

Service::Service(ServiceOptions options)
    : options_(std::move(options)),
      hello_("hello from " + options_.name + "\n"),
      random_state_(static_cast<std::uint64_t>(base::Clock::now().time_since_epoch().count())) {}

void Service::handle(http::Request& req, http::ResponseWriter& w) {
  std::string_view path = path_of(req.target());
  if (path == "/_stats") return stats(w);
  requests_.fetch_add(1, std::memory_order_relaxed);
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  if (simulate()) {
    (void)w.reply(500, options_.name + ": simulated failure\n",
                  {{"X-Backend-Name", options_.name}, {"Content-Type", "text/plain"}});
  } else if (path == "/echo") {
    echo(req, w);
  } else if (path == "/sink") {
    sink(req, w);
  } else if (path == "/headers") {
    headers(req, w);
  } else {
    body(w);
  }
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
}

bool Service::simulate() {
  if (options_.delay.count() > 0) runtime::sleep_for(options_.delay);
  if (options_.cpu_work.count() > 0) {
    auto until = base::Clock::now() + options_.cpu_work;
    while (base::Clock::now() < until) {
    }
  }
  return options_.fail_ratio > 0 && next_uniform(random_state_) < options_.fail_ratio;
}

void Service::stats(http::ResponseWriter& w) {
  nlohmann::json j = {{"name", options_.name},
                      {"requests", requests_.load(std::memory_order_relaxed)},
                      {"in_flight", in_flight_.load(std::memory_order_relaxed)}};
  if (server_ != nullptr) {
    http::ServerStats s = server_->stats();
    j["accepted"] = s.accepted;
    j["active"] = s.active;
  }
  (void)w.reply(200, j.dump() + "\n", {{"Content-Type", "application/json"}});
}

void Service::echo(http::Request& req, http::ResponseWriter& w) {
  // Same framing as the request: its Content-Length when it had one, else chunked.
  const http::Header* length = req.headers().find("Content-Length");
  http::Header fields[] = {{"X-Backend-Name", options_.name},
                           {"Content-Type", "application/octet-stream"},
                           {"Content-Length", length ? length->value : ""}};
  if (!w.write_header(200, std::span<const http::Header>(fields, length ? 3 : 2))) return;
  for (;;) {
    auto piece = req.body().next();
    if (!piece || piece->empty()) return;  // a failed read ends the response short (closes)
    if (!w.write(*piece)) return;
    // Each piece goes back as it came: an interactive client sees its echo at once (a read
    // returns what arrived, so under bulk load the pieces are large anyway).
    if (!w.flush()) return;
  }
}

void Service::sink(http::Request& req, http::ResponseWriter& w) {
  std::uint64_t total = 0;
  for (;;) {
    auto piece = req.body().next();
    if (!piece) return;  // the client went away; nothing to answer
    if (piece->empty()) break;
    total += piece->size();
  }
  (void)w.reply(200, options_.name + " received " + std::to_string(total) + " bytes\n",
                {{"X-Backend-Name", options_.name}, {"Content-Type", "text/plain"}});
}

void Service::headers(http::Request& req, http::ResponseWriter& w) {
  nlohmann::json j = nlohmann::json::array();
  for (const http::Header& h : req.headers()) {
    j.push_back({std::string(h.name), std::string(h.value)});
  }
  (void)w.reply(200, j.dump() + "\n",
                {{"X-Backend-Name", options_.name}, {"Content-Type", "application/json"}});
}

void Service::body(http::ResponseWriter& w) {
  if (options_.body_bytes == 0) {
    (void)w.reply(200, hello_, {{"X-Backend-Name", options_.name}, {"Content-Type", "text/plain"}});
    return;
  }
  static const std::string kFill(kPiece, 'x');
  const std::string length = std::to_string(options_.body_bytes);
  if (!w.write_header(200, {{"X-Backend-Name", options_.name},
                            {"Content-Type", "application/octet-stream"},
                            {"Content-Length", length}})) {
    return;
  }
  for (std::uint64_t left = options_.body_bytes; left > 0;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kPiece));
    if (!w.write(std::string_view(kFill).substr(0, n))) return;
    left -= n;
  }
}

}  // namespace spindle::backend
