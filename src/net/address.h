// Address: an IPv4, IPv6 or Unix-domain socket address, parsed from text or taken from the
// kernel; resolve() turns a host name into addresses through getaddrinfo on the blocking-call
// path, so the resolving goroutine's processor keeps running others. Design: docs/net.md.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/error.h"

namespace spindle::net {

enum class Family { kNone, kIPv4, kIPv6, kUnix };
const char* to_string(Family f);

// A value type holding a sockaddr. Default-constructed: Family::kNone (no address).
class Address {
 public:
  Address() = default;
  // Copies len bytes of a kernel-supplied sockaddr (accept, getsockname, getaddrinfo).
  static Address from_sockaddr(const sockaddr* sa, socklen_t len);
  // A Unix-domain address: a filesystem path, or an abstract name when it starts with '@'.
  // Fails with kAddress when the path does not fit sun_path (107 bytes) or is empty.
  static Result<Address> unix_path(std::string_view path);

  Family family() const;
  // The port of an IP address; 0 for Unix addresses.
  uint16_t port() const;
  // A copy with the port replaced (IP addresses only; others are returned unchanged).
  Address with_port(uint16_t port) const;
  bool is_ip() const { return family() == Family::kIPv4 || family() == Family::kIPv6; }
  // A loopback IP address: 127.0.0.0/8, ::1, or 127.x mapped into IPv6 (::ffff:127.0.0.1).
  bool is_loopback() const;
  // "127.0.0.1:80", "[::1]:80", "[fe80::1%2]:80", "/run/x.sock", "@abstract", "" for kNone.
  std::string to_string() const;
  // The IP address alone ("192.0.2.1", "2001:db8::1", no brackets or port); empty unless is_ip().
  std::string ip_string() const;

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t sockaddr_len() const { return len_; }

  friend bool operator==(const Address& a, const Address& b);

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

// Parses a literal address, never touching DNS:
//   "127.0.0.1:8080"  "[::1]:8080"  "[fe80::1%eth0]:80"  ":8080" (0.0.0.0)  "[::]:0"
//   "unix:/path/to/socket"  "unix:@abstract"  "/path/to/socket" (a leading '/' means Unix)
// Fails with kAddress and a detail that names what is wrong ("missing port", "port out of
// range", "not an IP address: use resolve() for host names", ...).
Result<Address> parse_address(std::string_view text);

// Resolves host (a name or an IP literal) to TCP addresses with `port`, IPv4 and IPv6 in
// getaddrinfo's order. Runs getaddrinfo inside runtime::blocking(): call it from a goroutine.
// Fails with kResolve (code: EAI_*) or kSystem.
Result<std::vector<Address>> resolve(std::string_view host, uint16_t port);

// resolve() for "host:port" text: literals are parsed, names resolved.
Result<std::vector<Address>> resolve(std::string_view host_port);

}  // namespace spindle::net
