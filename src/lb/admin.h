// Admin: the registration API, served on the client listener (backends need only the one
// address) or on its own (--admin-listen): POST /_lb/register, /_lb/heartbeat,
// /_lb/deregister and GET /_lb/backends. Bodies are JSON; every refusal is a 4xx with a JSON
// {"error": "..."} sentence. With a token, every call needs it (the backend list shows the
// topology). Not on the hot path: it may allocate and take the registry's mutex. Contract:
// docs/lb-reference.md; design: docs/lb.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"
#include "lb/registry.h"
#include "net/address.h"

namespace spindle::lb {

struct AdminOptions {
  std::string token;  // non-empty: every call needs "Authorization: Bearer <token>"
  net::Address self;  // the LB's listen address, for the loop check
  base::Duration heartbeat_interval = std::chrono::seconds(1);
};

class Admin {
 public:
  Admin(Registry& registry, AdminOptions options);

  // Answers a request whose normalised path (request_path.h) is `path`, under /_lb: the
  // API's calls, 404 for other paths.
  void serve(http::Request& req, http::ResponseWriter& w, std::string_view path);

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
