#include "net/address.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>

#include "runtime/blocking.h"

namespace spindle::net {
namespace {

Error address_error(std::string_view text, const char* why) {
  return Error{ErrorKind::kAddress, 0, "parse address", "\"" + std::string(text) + "\": " + why};
}

// Splits "host:port" / "[host]:port"; host may be empty (":80"). Brackets are removed.
struct HostPort {
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
};

Result<HostPort> split_host_port(std::string_view text) {
  HostPort hp;
  size_t colon;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return address_error(text, "missing ']'");
    hp.host = text.substr(1, close - 1);
    hp.bracketed = true;
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return address_error(text, "missing port after ']'");
    }
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos) return address_error(text, "missing port");
    hp.host = text.substr(0, colon);
    if (hp.host.find(':') != std::string_view::npos) {
      return address_error(text, "IPv6 addresses need brackets: [host]:port");
    }
  }
  hp.port = text.substr(colon + 1);
  return hp;
}

Result<uint16_t> parse_port(std::string_view text, std::string_view port) {
  if (port.empty()) return address_error(text, "missing port");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && value > 65535)) {
    return address_error(text, "port out of range (0-65535)");
  }
  if (ec != std::errc() || end != port.data() + port.size()) {
    return address_error(text, "port is not a number");
  }
  return static_cast<uint16_t>(value);
}

// Parses an IPv4 or IPv6 literal (IPv6 with an optional %zone) into out. False if neither.
bool parse_ip(std::string_view host, bool bracketed, uint16_t port, Address* out) {
  std::string h(host);
  if (!bracketed) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (inet_pton(AF_INET, h.c_str(), &sin.sin_addr) != 1) return false;
    *out = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    return true;
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  size_t pct = h.find('%');
  if (pct != std::string::npos) {
    std::string zone = h.substr(pct + 1);
    h.resize(pct);
    unsigned index = 0;
    auto [end, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), index);
    if (ec != std::errc() || end != zone.data() + zone.size()) index = if_nametoindex(zone.c_str());
    if (index == 0) return false;
    sin6.sin6_scope_id = index;
  }
  if (inet_pton(AF_INET6, h.c_str(), &sin6.sin6_addr) != 1) return false;
  *out = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
  return true;
}

}  // namespace

const char* to_string(Family f) {
  switch (f) {
    case Family::kNone:
      return "none";
    case Family::kIPv4:
      return "ipv4";
    case Family::kIPv6:
      return "ipv6";
    case Family::kUnix:
      return "unix";
  }
  return "unknown";
}

Address Address::from_sockaddr(const sockaddr* sa, socklen_t len) {
  Address a;
  if (len > sizeof a.storage_) len = sizeof a.storage_;
  std::memcpy(&a.storage_, sa, len);
  a.len_ = len;
  return a;
}

Result<Address> Address::unix_path(std::string_view path) {
  sockaddr_un sun{};
  if (path.empty()) return address_error(path, "empty Unix socket path");
  if (path.size() >= sizeof sun.sun_path) {
    return address_error(path, "Unix socket path longer than 107 bytes");
  }
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  socklen_t len = offsetof(sockaddr_un, sun_path) + path.size();
  if (path.front() == '@') {
    sun.sun_path[0] = '\0';  // abstract namespace: no file, no trailing NUL in the length
  } else {
    len += 1;
  }
  return from_sockaddr(reinterpret_cast<sockaddr*>(&sun), len);
}

Family Address::family() const {
  if (len_ == 0) return Family::kNone;
  switch (storage_.ss_family) {
    case AF_INET:
      return Family::kIPv4;
    case AF_INET6:
      return Family::kIPv6;
    case AF_UNIX:
      return Family::kUnix;
    default:
      return Family::kNone;
  }
}

uint16_t Address::port() const {
  switch (family()) {
    case Family::kIPv4:
      return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    case Family::kIPv6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    default:
      return 0;
  }
}

Address Address::with_port(uint16_t port) const {
  Address a = *this;
  if (family() == Family::kIPv4) {
    reinterpret_cast<sockaddr_in*>(&a.storage_)->sin_port = htons(port);
  } else if (family() == Family::kIPv6) {
    reinterpret_cast<sockaddr_in6*>(&a.storage_)->sin6_port = htons(port);
  }
  return a;
}

bool Address::is_loopback() const {
  if (family() == Family::kIPv4) {
    return ntohl(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr) >> 24 == 127;
  }
  if (family() != Family::kIPv6) return false;
  const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
  return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
}

std::string Address::ip_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (family() == Family::kIPv4) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    return buf;
  }
  if (family() == Family::kIPv6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
    return buf;
  }
  return {};
}

std::string Address::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  switch (family()) {
    case Family::kIPv4: {
      auto* sin = reinterpret_cast<const sockaddr_in*>(&storage_);
      inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
      return std::string(buf) + ":" + std::to_string(port());
    }
    case Family::kIPv6: {
      auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
      std::string s = "[" + std::string(buf);
      if (sin6->sin6_scope_id != 0) s += "%" + std::to_string(sin6->sin6_scope_id);
      return s + "]:" + std::to_string(port());
    }
    case Family::kUnix: {
      auto* sun = reinterpret_cast<const sockaddr_un*>(&storage_);
      size_t n = len_ - offsetof(sockaddr_un, sun_path);
      if (n == 0) return "@";  // unnamed (the peer of a dialed Unix socket)
      if (sun->sun_path[0] == '\0') return "@" + std::string(sun->sun_path + 1, n - 1);
      return std::string(sun->sun_path, strnlen(sun->sun_path, n));
    }
    case Family::kNone:
      break;
  }
  return "";
}

bool operator==(const Address& a, const Address& b) {
  return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

Result<Address> parse_address(std::string_view text) {
  if (text.starts_with("unix:")) return Address::unix_path(text.substr(5));
  if (text.starts_with("/")) return Address::unix_path(text);
  auto hp = split_host_port(text);
  if (!hp) return hp.error();
  auto port = parse_port(text, hp->port);
  if (!port) return port.error();
  Address a;
  std::string_view host = hp->host;
  if (host.empty()) host = hp->bracketed ? "::" : "0.0.0.0";
  if (parse_ip(host, hp->bracketed, *port, &a)) return a;
  if (hp->bracketed) return address_error(text, "not an IPv6 address");
  return address_error(text, "not an IP address (use resolve() for host names)");
}

Result<std::vector<Address>> resolve(std::string_view host, uint16_t port) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string detail = h;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // No AI_ADDRCONFIG: it hides "localhost" on hosts whose only interface is loopback.
  addrinfo* list = nullptr;
  int saved_errno = 0;
  // getaddrinfo may read files and wait for DNS servers: hand the processor off while it does.
  int rc = runtime::blocking([&] {
    int r = getaddrinfo(h.c_str(), nullptr, &hints, &list);
    saved_errno = errno;
    return r;
  });
  if (rc == EAI_SYSTEM) return Error::from_errno(saved_errno, "resolve", detail);
  if (rc != 0) return Error{ErrorKind::kResolve, rc, "resolve", detail};
  std::vector<Address> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    Address a = Address::from_sockaddr(ai->ai_addr, ai->ai_addrlen).with_port(port);
    bool seen = false;
    for (const Address& b : out) seen = seen || b == a;
    if (!seen) out.push_back(a);
  }
  freeaddrinfo(list);
  if (out.empty()) return Error{ErrorKind::kResolve, EAI_NONAME, "resolve", detail};
  return out;
}

Result<std::vector<Address>> resolve(std::string_view host_port) {
  auto literal = parse_address(host_port);
  if (literal) return std::vector<Address>{*literal};
  auto hp = split_host_port(host_port);
  if (!hp) return hp.error();
  auto port = parse_port(host_port, hp->port);
  if (!port) return port.error();
  if (hp->host.empty()) return literal.error();
  return resolve(hp->host, *port);
}

}  // namespace spindle::net
