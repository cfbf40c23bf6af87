// Admin: the registration API served on the client listener (as in the classic Go balancer this one is measured against):
// POST /_lb/register, /_lb/heartbeat, /_lb/deregister and GET /_lb/backends. Bodies are JSON;
// every refusal is a 4xx with a JSON {"error": "..."} sentence. Not on the hot path: it may
// allocate and take the registry's mutex. Contract: docs/lb-reference.md; design: docs/lb.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"
#include "lb/registry.h"
#include "net/address.h"

namespace spindle::lb {

struct AdminOptions {
  std::string token;  // non-empty: the POSTs need "Authorization: Bearer <token>"
  net::Address self;  // the LB's listen address, for the loop check
  runtime::Clock::duration heartbeat_interval = std::chrono::seconds(1);
};

class Admin {
 public:
  Admin(Registry& registry, AdminOptions options);

  // Whether target (path and query) is one of the API's paths.
  static bool handles(std::string_view target);
  void serve(http::Request& req, http::ResponseWriter& w);

 private:
  void register_backend(http::Request& req, http::ResponseWriter& w);
  void heartbeat(http::Request& req, http::ResponseWriter& w);
  void deregister(http::Request& req, http::ResponseWriter& w);
  void list(http::ResponseWriter& w);
  bool authorized(const http::Request& req) const;

  Registry& registry_;
  const AdminOptions options_;
  const std::vector<net::Address> local_;  // this host's addresses, for the loop check
};

}  // namespace spindle::lb
