#include "debug/debug_server.h"

#include <chrono>
#include <utility>

#include "base/log.h"
#include "runtime/runtime.h"

namespace spindle::debug {

DebugServer::DebugServer(DebugOptions options) : handler_(std::move(options)) {}

DebugServer::~DebugServer() { shutdown(); }

base::Result<void, std::string> DebugServer::listen(const std::string& address, bool required) {
  if (address == "off") return {};
  auto l = net::listen(address);
  if (l) {
    listener_ = std::move(*l);
    base::log::info("debug listener on {}", listener_.address().to_string());
    return {};
  }
  if (required) return "--debug-listen " + address + ": " + l.error().message();
  base::log::warn("debug listener off: {}: {}", address, l.error().message());
  return {};
}

std::string DebugServer::address() const {
  return listener_.valid() ? listener_.address().to_string() : "off";
}

void DebugServer::start() {
  if (!listener_.valid() || server_) return;
  server_ = std::make_unique<http::Server>(
      [this](http::Request& req, http::ResponseWriter& w) { handler_(req, w); });
  running_ = true;
  runtime::go([this] {
    (void)server_->serve(listener_);
    (void)served_.send(true);
  });
}

void DebugServer::shutdown() {
  if (!running_) return;
  running_ = false;
  server_->shutdown(std::chrono::seconds(1));
  (void)served_.recv();
}

}  // namespace spindle::debug
