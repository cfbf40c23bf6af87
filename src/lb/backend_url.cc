#include "lb/backend_url.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cctype>
#include <charconv>

namespace spindle::lb {

namespace {

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The address bytes of an IP address (4 or 16), v4-mapped v6 folded to v4.
std::string_view ip_bytes(const net::Address& a) {
  const sockaddr* sa = a.sockaddr_ptr();
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return {reinterpret_cast<const char*>(&in->sin_addr), 4};
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      return {reinterpret_cast<const char*>(&in6->sin6_addr) + 12, 4};
    }
    return {reinterpret_cast<const char*>(&in6->sin6_addr), 16};
  }
  return {};
}

bool unspecified(std::string_view ip) {
  for (char c : ip) {
    if (c != 0) return false;
  }
  return true;
}

}  // namespace

base::Result<BackendUrl, std::string> parse_backend_url(std::string_view text) {
  const std::string_view kScheme = "http://";
  if (text.size() < kScheme.size() || lower(text.substr(0, kScheme.size())) != kScheme) {
    return std::string("backend URL must look like http://HOST:PORT (only http is supported)");
  }
  std::string_view rest = text.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return std::string("backend URL must be http://HOST:PORT with no user, path or query");
  }
  BackendUrl out;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return std::string("backend URL has a malformed IPv6 host or no port: http://[ADDR]:PORT");
    }
    out.host = lower(rest.substr(1, close - 1));
    in6_addr tmp;
    if (inet_pton(AF_INET6, out.host.c_str(), &tmp) != 1) {
      return std::string("backend URL has an invalid IPv6 address");
    }
    port_text = rest.substr(close + 2);
  } else {
    std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return std::string("backend URL has no port");
    out.host = lower(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
    if (out.host.empty()) return std::string("backend URL has no host");
    for (char c : out.host) {
      if (!name_char(c)) return std::string("backend URL has an invalid host name");
    }
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || p != port_text.data() + port_text.size() ||
      port == 0 || port > 65535) {
    return std::string("backend URL port must be a number from 1 to 65535");
  }
  out.port = static_cast<std::uint16_t>(port);
  const bool v6 = out.host.find(':') != std::string::npos;
  out.address = (v6 ? "[" + out.host + "]" : out.host) + ":" + std::to_string(port);
  out.url = "http://" + out.address;
  return out;
}

bool points_at(const std::vector<net::Address>& targets, const net::Address& self,
               const std::vector<net::Address>& local) {
  if (!self.is_ip()) return false;
  std::string_view self_ip = ip_bytes(self);
  for (const net::Address& t : targets) {
    if (!t.is_ip() || t.port() != self.port()) continue;
    std::string_view ip = ip_bytes(t);
    // Connecting to 0.0.0.0 or :: reaches this host, whatever address we listen on.
    if (ip == self_ip || unspecified(ip)) return true;
    if (!unspecified(self_ip)) continue;
    // Listening on the wildcard: every address of this host reaches us.
    if (t.is_loopback() || unspecified(ip)) return true;
    for (const net::Address& l : local) {
      if (ip_bytes(l) == ip) return true;
    }
  }
  return false;
}

std::vector<net::Address> local_addresses() {
  std::vector<net::Address> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      out.push_back(net::Address::from_sockaddr(i->ifa_addr, sizeof(sockaddr_in)));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      out.push_back(net::Address::from_sockaddr(i->ifa_addr, sizeof(sockaddr_in6)));
    }
  }
  freeifaddrs(list);
  return out;
}

}  // namespace spindle::lb
