#include "net/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "net/socket.h"

namespace spindle::net {

using base::Duration;
using base::TimePoint;
using internal::Socket;

namespace {
std::atomic<uint64_t> g_total_backoffs{0};

bool is_resource_shortage(const Error& e) {
  return e.kind == ErrorKind::kSystem &&
         (e.code == EMFILE || e.code == ENFILE || e.code == ENOBUFS || e.code == ENOMEM);
}

Result<void> set_int_option(int fd, int level, int name, int value, const Address& addr) {
  if (::setsockopt(fd, level, name, &value, sizeof value) < 0) {
    return Error::from_errno(errno, "listen", addr.to_string());
  }
  return {};
}

// A Unix socket file left by a dead process: connecting to it is refused. Removes it then.
Result<void> remove_stale_unix_socket(const Address& addr) {
  std::string path = addr.to_string();
  if (path.empty() || path[0] != '/') return {};  // abstract names leave no file
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) return {};
  if (!S_ISSOCK(st.st_mode)) return Error::from_errno(EADDRINUSE, "listen", path);
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return Error::from_errno(errno, "listen", path);
  int rc = ::connect(probe, addr.sockaddr_ptr(), addr.sockaddr_len());
  int err = rc < 0 ? errno : 0;
  ::close(probe);
  if (err != ECONNREFUSED) return Error::from_errno(EADDRINUSE, "listen", path);
  ::unlink(path.c_str());
  return {};
}

Result<Address> bound_address(int fd, const Address& requested) {
  sockaddr_storage sa;
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
    return Error::from_errno(errno, "listen", requested.to_string());
  }
  return Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
}

// socket, options, bind, listen: the fd, or an error with the fd closed.
Result<int> bind_and_listen(const Address& addr, const ListenOptions& options) {
  auto fd = open_stream_socket(addr, "listen");
  if (!fd) return fd.error();
  auto fail = [&](int err) -> Result<int> {
    ::close(*fd);
    return Error::from_errno(err, "listen", addr.to_string());
  };
  if (addr.is_ip()) {
    Result<void> r;
    if (options.reuse_address) r = set_int_option(*fd, SOL_SOCKET, SO_REUSEADDR, 1, addr);
    if (r && options.reuse_port) r = set_int_option(*fd, SOL_SOCKET, SO_REUSEPORT, 1, addr);
    if (r && addr.family() == Family::kIPv6) {
      r = set_int_option(*fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, addr);
    }
    if (!r) return fail(r.error().code);
  }
  if (::bind(*fd, addr.sockaddr_ptr(), addr.sockaddr_len()) < 0) return fail(errno);
  if (::listen(*fd, options.backlog) < 0) return fail(errno);
  return *fd;
}

}  // namespace

struct Listener::State {
  std::unique_ptr<Socket> socket;
  Address address;
  std::string unlink_path;  // the Unix socket file this listener created
  std::atomic<uint64_t> backoffs{0};
  // Inside a burst of resource errors (logged once at its start and once at its end).
  // Touched only by the accepting goroutine.
  bool in_burst = false;
  uint64_t burst_start_backoffs = 0;
};

Listener::Listener() = default;
Listener::Listener(std::unique_ptr<State> state) : state_(std::move(state)) {}
Listener::Listener(Listener&&) noexcept = default;
Listener& Listener::operator=(Listener&& o) noexcept {
  if (this != &o) {
    if (state_) (void)close();
    state_ = std::move(o.state_);
  }
  return *this;
}
Listener::~Listener() {
  if (state_) (void)close();
}

const Address& Listener::address() const {
  static const Address kNone;
  return state_ ? state_->address : kNone;
}
int Listener::fd() const { return state_ ? state_->socket->fd() : -1; }
uint64_t Listener::backoffs() const {
  return state_ ? state_->backoffs.load(std::memory_order_relaxed) : 0;
}
uint64_t Listener::total_backoffs() { return g_total_backoffs.load(std::memory_order_relaxed); }

Result<void> Listener::set_deadline(TimePoint t) {
  if (!state_) return Error::closed("set deadline");
  return state_->socket->set_read_deadline(t);
}

Result<void> Listener::close() {
  if (!state_) return Error::closed("close");
  auto r = state_->socket->close("close");
  if (r && !state_->unlink_path.empty()) ::unlink(state_->unlink_path.c_str());
  return r;
}

Result<Conn> Listener::accept() {
  if (!state_) return Error::closed("accept");
  Duration delay = Duration::zero();
  for (;;) {
    sockaddr_storage sa;
    socklen_t len;
    auto fd = state_->socket->accept(&sa, &len);
    Result<std::unique_ptr<Socket>> socket = fd ? Socket::open(*fd, "accept") : fd.error();
    if (socket) {
      Conn conn(std::move(*socket), Address::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len));
      if (conn.peer_address().is_ip()) (void)conn.set_nodelay(true);
      if (state_->in_burst) {
        state_->in_burst = false;
        base::log::info("accept {}: accepting again after {} back-offs",
                        state_->address.to_string(),
                        state_->backoffs.load() - state_->burst_start_backoffs);
      }
      return conn;
    }
    Error e = socket.error();  // accept4, or registering the new fd with the poller
    e.detail = state_->address.to_string();
    if (!is_resource_shortage(e)) return e;
    // Out of descriptors (or kernel memory): the pending connection stays queued. Wait and
    // retry; returning the error would make most accept loops either exit or spin.
    delay = delay == Duration::zero() ? kAcceptBackoffMin : std::min(2 * delay, kAcceptBackoffMax);
    uint64_t count = state_->backoffs.fetch_add(1, std::memory_order_relaxed);
    if (!state_->in_burst) {
      state_->in_burst = true;
      state_->burst_start_backoffs = count;
      base::log::warn("{}; backing off 5 ms, doubling to 1 s", e.message());
    }
    g_total_backoffs.fetch_add(1, std::memory_order_relaxed);
    if (auto w = state_->socket->wait_read_until(base::Clock::now() + delay); !w) {
      Error we = w.error();
      we.detail = state_->address.to_string();
      return we;
    }
  }
}

Result<Listener> listen(const Address& addr, const ListenOptions& options) {
  if (addr.family() == Family::kUnix) {
    if (auto r = remove_stale_unix_socket(addr); !r) return r.error();
  }
  auto fd = bind_and_listen(addr, options);
  if (!fd) return fd.error();
  auto bound = bound_address(*fd, addr);
  if (!bound) {
    ::close(*fd);
    return bound.error();
  }
  auto socket = Socket::open(*fd, "listen");
  if (!socket) return socket.error();
  auto state = std::make_unique<Listener::State>();
  state->socket = std::move(*socket);
  state->address = *bound;
  std::string path = bound->to_string();
  if (bound->family() == Family::kUnix && !path.empty() && path[0] == '/') {
    state->unlink_path = path;
  }
  return Listener(std::move(state));
}

Result<Listener> listen(std::string_view address, const ListenOptions& options) {
  auto addr = parse_address(address);
  if (!addr) return addr.error();
  return listen(*addr, options);
}

Result<std::vector<Listener>> listen_reuseport(const Address& addr, int n, ListenOptions options) {
  options.reuse_port = true;
  std::vector<Listener> out;
  Address next = addr;
  for (int i = 0; i < n; ++i) {
    auto l = listen(next, options);
    if (!l) return l.error();  // the listeners made so far close with `out`
    next = l->address();       // port 0: the others join the port the first one got
    out.push_back(std::move(*l));
  }
  return out;
}

}  // namespace spindle::net
