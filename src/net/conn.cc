#include "net/conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "net/socket.h"

namespace spindle::net {

using base::Duration;
using base::TimePoint;
using internal::Socket;

Conn::Conn() = default;
Conn::~Conn() = default;  // ~Socket closes
Conn::Conn(Conn&&) noexcept = default;
Conn& Conn::operator=(Conn&&) noexcept = default;

Conn::Conn(std::unique_ptr<Socket> socket, Address peer)
    : socket_(std::move(socket)), peer_(std::move(peer)) {}

Error Conn::annotate(Error e) const {
  if (e.detail.empty()) e.detail = peer_.to_string();
  return e;
}

Result<size_t> Conn::read(std::span<char> buf) {
  if (!socket_) return Error::closed("read");
  auto r = socket_->read(buf.data(), buf.size());
  if (!r) return annotate(r.error());
  return r;
}

Result<void> Conn::read_full(std::span<char> buf) {
  size_t got = 0;
  while (got < buf.size()) {
    auto r = read(buf.subspan(got));
    if (!r) return r.error();
    if (*r == 0) {
      Error e{got == 0 ? ErrorKind::kEof : ErrorKind::kUnexpectedEof, 0, "read", {}};
      return annotate(std::move(e));
    }
    got += *r;
  }
  return {};
}

Result<size_t> Conn::write(std::string_view data) {
  if (!socket_) return Error::closed("write");
  auto r = socket_->write(data.data(), data.size());
  if (!r) return annotate(r.error());
  return r;
}

Result<size_t> Conn::writev(std::span<const std::string_view> parts) {
  if (!socket_) return Error::closed("writev");
  constexpr size_t kBatch = 64;  // iovecs built on the stack per sendmsg round
  iovec iov[kBatch];
  size_t total = 0;
  for (size_t start = 0; start < parts.size(); start += kBatch) {
    size_t n = std::min(kBatch, parts.size() - start);
    for (size_t i = 0; i < n; ++i) {
      iov[i].iov_base = const_cast<char*>(parts[start + i].data());
      iov[i].iov_len = parts[start + i].size();
    }
    auto r = socket_->writev(iov, static_cast<int>(n));
    if (!r) return annotate(r.error());
    total += *r;
  }
  return total;
}

Result<void> Conn::shutdown(ShutdownHow how) {
  if (!socket_) return Error::closed("shutdown");
  int h = how == ShutdownHow::kRead ? SHUT_RD : how == ShutdownHow::kWrite ? SHUT_WR : SHUT_RDWR;
  auto r = socket_->with_fd("shutdown", [h](int fd) { return ::shutdown(fd, h); });
  if (!r) return annotate(r.error());
  return r;
}

Result<void> Conn::close() {
  if (!socket_) return Error::closed("close");
  auto r = socket_->close("close");
  if (!r) return annotate(r.error());
  return r;
}

Result<void> Conn::set_deadline(TimePoint t) {
  if (auto r = set_read_deadline(t); !r) return r;
  return set_write_deadline(t);
}

Result<void> Conn::set_read_deadline(TimePoint t) {
  if (!socket_) return Error::closed("set deadline");
  return socket_->set_read_deadline(t);
}

Result<void> Conn::set_write_deadline(TimePoint t) {
  if (!socket_) return Error::closed("set deadline");
  return socket_->set_write_deadline(t);
}

Result<void> Conn::set_nodelay(bool on) {
  if (!socket_) return Error::closed("set nodelay");
  int v = on ? 1 : 0;
  return socket_->with_fd("set nodelay", [v](int fd) {
    return ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
  });
}

Result<Address> Conn::local_address() const {
  if (!socket_) return Error::closed("getsockname");
  sockaddr_storage sa;
  socklen_t len = sizeof sa;
  auto r = socket_->with_fd("getsockname", [&](int fd) {
    return ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  });
  if (!r) return r.error();
  return Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
}

int Conn::fd() const { return socket_ ? socket_->fd() : -1; }

bool Conn::maybe_readable() const { return !socket_ || socket_->maybe_readable(); }
bool Conn::arm_read_hook(runtime::PollHook* hook) {
  return socket_ && socket_->arm_read_hook(hook);
}
bool Conn::disarm_read_hook() { return socket_ && socket_->disarm_read_hook(); }

Result<int> open_stream_socket(const Address& addr, const char* op) {
  int domain = addr.family() == Family::kIPv4   ? AF_INET
               : addr.family() == Family::kIPv6 ? AF_INET6
               : addr.family() == Family::kUnix ? AF_UNIX
                                                : -1;
  if (domain < 0) return Error{ErrorKind::kAddress, 0, op, "no address"};
  int fd = ::socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::from_errno(errno, op, addr.to_string());
  return fd;
}

Result<Conn> dial(const Address& addr, Duration timeout) {
  auto deadline = timeout == kNoTimeout ? TimePoint::max() : base::Clock::now() + timeout;
  auto fd = open_stream_socket(addr, "dial");
  if (!fd) return fd.error();
  auto socket = Socket::open(*fd, "dial");
  if (!socket) return socket.error();
  Socket* s = socket->get();
  Conn conn(std::move(*socket), addr);
  int rc;
  do {
    rc = ::connect(*fd, addr.sockaddr_ptr(), addr.sockaddr_len());
  } while (rc < 0 && errno == EINTR);
  // EAGAIN (a Unix listener's backlog is full) is returned, as in Go: it is temporary().
  if (rc < 0 && errno != EINPROGRESS) {
    return Error::from_errno(errno, "dial", addr.to_string());  // ~Conn closes the socket
  }
  if (rc < 0) {
    // EINPROGRESS: the TCP handshake is under way; writable once it completes or fails.
    auto w = s->wait_connected(deadline);
    if (!w) {
      Error e = w.error();
      e.detail = addr.to_string();
      return e;
    }
  }
  if (addr.is_ip()) (void)conn.set_nodelay(true);
  return conn;
}

Result<Conn> dial(std::string_view address, Duration timeout) {
  auto start = base::Clock::now();
  auto addrs = resolve(address);
  if (!addrs) return addrs.error();
  Error last = Error::from_errno(EHOSTUNREACH, "dial", std::string(address));
  for (const Address& a : *addrs) {
    Duration left = kNoTimeout;
    if (timeout != kNoTimeout) {
      left = timeout - (base::Clock::now() - start);
      if (left <= Duration::zero()) return Error::timeout("dial", a.to_string());
    }
    auto c = dial(a, left);
    if (c) return c;
    last = c.error();
    if (last.timeout()) return last;
  }
  return last;
}

}  // namespace spindle::net
