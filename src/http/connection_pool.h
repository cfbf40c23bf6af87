// ConnectionPool: the keep-alive connections of a client to one host (HostPool), with a cap
// on idle and (optionally) on all connections, stale-connection detection before reuse, and
// statistics. Client (client.h) sends requests through it. Design: the comment at the top of
// connection_pool.cc and docs/http.md, "Client".
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/stats.h"
#include "base/time.h"
#include "http/body_reader.h"
#include "http/error.h"
#include "http/head_parser.h"
#include "http/read_buffer.h"
#include "net/conn.h"
#include "runtime/sync/cond.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/wait_group.h"

namespace spindle::http {

using namespace std::chrono_literals;

struct ClientOptions {
  std::size_t max_idle_per_host = 100;  // idle keep-alive connections kept per host
  std::size_t max_conns_per_host = 0;   // open connections per host; 0: no cap (callers wait)
  base::Duration dial_timeout = 30s;
  // From the end of the request to the end of the response head (then a 504-class error).
  base::Duration response_header_timeout = net::kNoTimeout;
  // The longest wait for more response body bytes (inactivity).
  base::Duration body_read_timeout = net::kNoTimeout;
  base::Duration write_timeout = net::kNoTimeout;  // the longest a request write may park
  base::Duration idle_timeout = 90s;  // an idle connection older than this is not reused
  // A connection's read buffer starts this large and grows as the limits allow.
  std::size_t read_buffer_size = 4096;
  Limits limits;
};

// A pool's stats (base/stats.h): live in the pool, a snapshot from stats().
template <class Cells>
struct PoolStatsOf {
  typename Cells::Counter new_connections{};
  typename Cells::Counter reuses{};
  typename Cells::Counter stale{};
  typename Cells::Counter retries{};
  typename Cells::Gauge idle{};
  typename Cells::Gauge in_use{};

  template <class F, class... S>
  static constexpr void each(F&& f, S&&... s) {
    f(base::MetricInfo{"connections_opened_total", "Dials that succeeded."}, s.new_connections...);
    f(base::MetricInfo{"reuses_total", "Requests sent on a pooled connection."}, s.reuses...);
    f(base::MetricInfo{"stale_connections_total",
                       "Pooled connections found closed (or with bytes unread) at reuse."},
      s.stale...);
    f(base::MetricInfo{"retries_total",
                       "Requests sent again on a fresh connection after a reused one failed."},
      s.retries...);
    f(base::MetricInfo{"idle_connections", "Connections in the pool now."}, s.idle...);
    f(base::MetricInfo{"in_use_connections", "Connections carrying a request now."}, s.in_use...);
  }
};
using PoolStats = PoolStatsOf<base::SnapshotCells>;

// One upstream connection with its buffers; moves between the pool and a ClientResponse.
struct PooledConn {
  net::Conn conn;
  ReadBuffer in;
  std::string out;
  ResponseParser parser;
  BodyReader body;
  Method method = Method::kGet;  // of the request in flight (its response's framing)
  bool reused = false;
  base::TimePoint idle_since;
  // Duplex exchanges (a large or chunked request body): the goroutine writing the body while
  // the response is read, and whether it wrote all of it. See client.cc.
  runtime::WaitGroup body_writer;
  bool body_writing = false;
  std::atomic<bool> body_write_ok{true};
  // When the writer finished writing the body (steady-clock ns; 0: still writing): the
  // response-header timeout counts from then (client.cc, read_response_head).
  std::atomic<std::int64_t> body_written_ns{0};
  Error body_error;  // the body writer's failure; read only after body_writer.wait()
  PooledConn(const Limits& limits, std::size_t buffer_size) : in(buffer_size), parser(limits) {}
};

// The pool for one host ("host:port" or a Unix path). Thread-safe: any goroutine may
// acquire and release; one Mutex per host, held for list operations only (never across I/O).
class HostPool {
 public:
  HostPool(std::string address, ClientOptions options);
  ~HostPool();
  HostPool(const HostPool&) = delete;
  HostPool& operator=(const HostPool&) = delete;

  // A live idle connection (reused = true), else a new one (dialled outside the lock). With
  // `fresh`, always a new one. Parks while max_conns_per_host connections are open. A failed
  // dial is an error in phase kConnect.
  Result<std::unique_ptr<PooledConn>> acquire(bool fresh);
  // Gives a connection back: kept if `reusable` and fewer than max_idle_per_host are idle,
  // closed otherwise. The caller has checked that its last response was cleanly framed.
  void release(std::unique_ptr<PooledConn> c, bool reusable);

  const std::string& address() const { return address_; }
  const ClientOptions& options() const { return options_; }
  PoolStats stats() const;
  void count_retry() { stats_.retries.add(); }
  // Closes every idle connection (not those in use).
  void close_idle();

 private:
  // Whether a pooled connection may carry another request: open, nothing unread, not too old.
  bool usable(PooledConn& c, base::TimePoint now);
  void forget_one();  // one open connection fewer (closed): wakes a waiter

  const std::string address_;
  const ClientOptions options_;
  mutable runtime::Mutex mu_;
  runtime::Cond cond_{mu_};                                        // waiters for max_conns_per_host
  std::vector<std::unique_ptr<PooledConn>> idle_ GUARDED_BY(mu_);  // LIFO: warmest on top
  std::size_t open_ GUARDED_BY(mu_) = 0;                           // idle + in use + dialling
  PoolStatsOf<base::LiveCells> stats_;
};

}  // namespace spindle::http
