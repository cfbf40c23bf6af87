// BackendUrl: a backend's address as registered, "http://HOST:PORT", checked and normalised
// (lower-case scheme and host, no trailing slash) so that the same backend always has the same
// registry key. The load-balancer loop check (a URL pointing at the LB itself) lives here too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "net/address.h"

namespace spindle::lb {

struct BackendUrl {
  std::string url;   // normalised: "http://127.0.0.1:9001", "http://[::1]:9001"
  std::string host;  // "127.0.0.1", "::1", "backend-1" (no brackets)
  std::uint16_t port = 0;
  std::string address;  // what the pool dials: "127.0.0.1:9001", "[::1]:9001"
};

// Accepts http://host:port with an optional single "/" after it; host is an IPv4 literal, a
// bracketed IPv6 literal or a DNS name. Rejects other schemes, userinfo, paths, queries, a
// missing or out-of-range port. The error is the sentence the 400 carries.
base::Result<BackendUrl, std::string> parse_backend_url(std::string_view text);

// Whether connecting to one of `targets` would reach `self`, the LB's own listen address:
// the same IP and port, or — when self is 0.0.0.0 / [::] — any address of this host (loopback
// or an interface address) with that port. `local` lists the host's interface addresses.
bool points_at(const std::vector<net::Address>& targets, const net::Address& self,
               const std::vector<net::Address>& local);

// The IP addresses of this host's interfaces (getifaddrs), ports zero.
std::vector<net::Address> local_addresses();

}  // namespace spindle::lb
