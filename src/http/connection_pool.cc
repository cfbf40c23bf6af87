// Connection pool
//
// One HostPool per upstream address, so the request path takes only that host's Mutex (and
// only around list operations: dialling, stale checks and I/O happen outside it). A proxy
// looks its HostPool up once per backend and keeps the reference; Client::pool() (client.cc)
// is the convenience map for callers that do not.
//
// Reuse protocol (acquire):
//   1. Under the lock, pop the most recently used idle connection (LIFO: the warmest, and the
//      older ones age out).
//   2. Outside the lock, check it (usable()): older than idle_timeout -> close. If the
//      response's last read drained the socket and the poller has reported nothing since
//      (net::Conn::maybe_readable, no system call), it is alive. Otherwise a non-blocking
//      peek, recv(MSG_PEEK | MSG_DONTWAIT) of one byte: 0 means the peer closed
//      it while idle, a byte means the peer sent something unasked (a desync, or a late
//      "408"), an error other than EAGAIN means it was reset. Any of these: count it as
//      stale, close, go to 1. EAGAIN: alive, return it with reused = true.
//   3. No idle connection: if max_conns_per_host is set and reached, wait on the Cond until a
//      connection is released or closed, then go to 1. Else count it open and dial (outside
//      the lock); a failed dial un-counts it.
// The peek cannot see a close that is still in flight (the peer closes just as we send), so
// the client also retries once on a fresh connection when a reused one fails before any
// response byte arrived and the request is replayable (client.cc, "Retry").
//
// Release protocol: a connection goes back to the pool only if the caller saw its response
// end exactly (the body decoder reached kDone), no byte follows that end in the buffer, and
// both sides allow keep-alive; anything else is closed. So bytes of one response can never
// be read as the answer to another request (no desync hand-over).
//
// Rejected: a goroutine per idle connection parked in read (Go's persistConn readLoop): it
// sees a close at once, but costs a goroutine and a stack per idle connection (100 per host
// by default) plus a hand-off on every reuse; the readiness token costs nothing, and the
// peek one system call when the token says something happened.
#include "http/connection_pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace spindle::http {

HostPool::HostPool(std::string address, ClientOptions options)
    : address_(std::move(address)), options_(std::move(options)) {}

HostPool::~HostPool() { close_idle(); }

bool HostPool::usable(PooledConn& c, base::TimePoint now) {
  if (options_.idle_timeout != net::kNoTimeout && now - c.idle_since > options_.idle_timeout) {
    return false;
  }
  if (!c.in.empty()) return false;
  // Nothing arrived since the response's last read drained the socket: neither a byte nor a
  // close to see, so skip the peek's system call.
  if (!c.conn.maybe_readable()) return true;
  char byte;
  ssize_t n = ::recv(c.conn.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void HostPool::forget_one() {
  {
    runtime::MutexLock lock(mu_);
    --open_;
  }
  cond_.signal();
}

Result<std::unique_ptr<PooledConn>> HostPool::acquire(bool fresh) {
  for (;;) {
    std::unique_ptr<PooledConn> c;
    {
      runtime::MutexLock lock(mu_);
      if (!fresh && !idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
        stats_.idle.sub();
      } else if (options_.max_conns_per_host != 0 && open_ >= options_.max_conns_per_host) {
        if (fresh && !idle_.empty()) {  // make room: a fresh dial replaces an idle one
          c = std::move(idle_.back());
          idle_.pop_back();
          stats_.idle.sub();
          --open_;
          c.reset();
          continue;
        }
        cond_.wait();
        continue;
      } else {
        ++open_;
      }
    }
    if (c) {
      if (usable(*c, base::Clock::now())) {
        c->reused = true;
        stats_.reuses.add();
        stats_.in_use.add();
        return c;
      }
      stats_.stale.add();
      c.reset();
      forget_one();
      continue;
    }
    auto conn = net::dial(address_, options_.dial_timeout);
    if (!conn) {
      forget_one();
      Error e = Error::from_net(conn.error(), Side::kUpstream);
      e.retryable = true;  // nothing was sent
      e.phase = Phase::kConnect;
      return e;
    }
    stats_.new_connections.add();
    stats_.in_use.add();
    auto pc = std::make_unique<PooledConn>(options_.limits, options_.read_buffer_size);
    pc->conn = std::move(*conn);
    return pc;
  }
}

void HostPool::release(std::unique_ptr<PooledConn> c, bool reusable) {
  stats_.in_use.sub();
  if (reusable) {
    c->idle_since = base::Clock::now();
    c->parser.reset();
    runtime::MutexLock lock(mu_);
    if (idle_.size() < options_.max_idle_per_host) {
      idle_.push_back(std::move(c));
      stats_.idle.add();
    }
  }
  if (c) {
    c.reset();  // closes it
    forget_one();
  } else {
    cond_.signal();
  }
}

void HostPool::close_idle() {
  std::vector<std::unique_ptr<PooledConn>> idle;
  {
    runtime::MutexLock lock(mu_);
    idle.swap(idle_);
    open_ -= idle.size();
    stats_.idle.sub(static_cast<std::int64_t>(idle.size()));
  }
  cond_.broadcast();
}

PoolStats HostPool::stats() const { return base::snapshot(stats_); }

}  // namespace spindle::http
