// Server: an HTTP/1.1 server on spindle's goroutines, one goroutine per connection. A Handler
// gets the parsed Request (head views into the connection buffer, body streamed through
// BodyReader) and a ResponseWriter that frames the response itself (Content-Length when known,
// chunked otherwise). Keep-alive, pipelining, timeouts, a connection limit and graceful
// shutdown. Design: the comment at the top of server.cc and docs/http.md, "Server".
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/stats.h"
#include "base/time.h"
#include "http/body_reader.h"
#include "http/cancel.h"
#include "http/error.h"
#include "http/fields.h"
#include "http/limits.h"
#include "http/message.h"
#include "net/listener.h"
#include "runtime/sync/mutex.h"
#include "runtime/sync/wait_group.h"

namespace spindle::http {

using namespace std::chrono_literals;

struct ServerOptions {
  // From the first byte of a request to the end of its head; then 408 and close.
  base::Duration read_header_timeout = 10s;
  // Keep-alive: the longest wait for the first byte of the next request; then a silent close.
  base::Duration idle_timeout = 120s;
  // The longest wait for more bytes of a request body (an inactivity timeout, not a total, so
  // a large body may stream for as long as it keeps moving).
  base::Duration body_read_timeout = 60s;
  // The longest a single write of the response may park (inactivity, as above).
  base::Duration write_timeout = 60s;
  // Connections served at once; above it a new connection is answered 503 and closed.
  std::size_t max_connections = 10000;
  // A handler that did not read the request body: up to this much is read and dropped to keep
  // the connection; a longer body closes it (Go's maxPostHandlerReadBytes).
  std::uint64_t max_unread_body = 256 * 1024;
  // A connection's read buffer starts this large and grows as the limits allow (the fuzzer
  // starts it tiny to reach every growth path with short inputs).
  std::size_t read_buffer_size = 4096;
  Limits limits;
};

namespace internal {
class ServerConn;
}

// One request as the handler sees it. Views (method, target, headers) point into the
// connection's buffer and are valid until the handler returns. Owned by the connection
// goroutine; the handler runs on it.
class Request {
 public:
  const RequestHead& head() const { return *head_; }
  Method method() const { return head_->method; }
  std::string_view method_token() const { return head_->method_token; }
  std::string_view target() const { return head_->target; }
  const HeaderList& headers() const { return head_->headers; }
  Version version() const { return head_->version; }
  const net::Address& remote_address() const;
  // remote_address()'s IP as text, no port ("" for Unix sockets): formatted once per connection.
  std::string_view remote_ip() const;

  // The request body, streamed: next() returns views into the connection buffer. Reading it
  // first sends "100 Continue" if the client asked for it and no byte of the response has gone
  // out; it may be read on another goroutine than the handler's (one at a time, joined before
  // the handler returns): the 100 and the response are never written at once.
  BodyReader& body() { return *body_; }

  // Fires (on another goroutine) if the client closes or resets the connection before the
  // handler returns: a proxy passes it as its upstream request's ClientRequest::cancel. It
  // watches from when it is armed (Cancel::arm: the HTTP client does once it has sent the
  // upstream request whole), and only if this request's body has been read to its end by then
  // (the watcher owns the connection's read side). Bytes the client pipelines meanwhile are
  // kept for the next request. One per request.
  Cancel& disconnect();

 private:
  friend class internal::ServerConn;
  const RequestHead* head_ = nullptr;
  BodyReader* body_ = nullptr;
  internal::ServerConn* conn_ = nullptr;
  Cancel* disconnect_ = nullptr;
};

// Writes the response to one request. Nothing is sent before the handler writes a body byte
// beyond a small buffer, flushes, or returns, so a short response whose handler gave no
// Content-Length still gets one (Go does the same). Owned by the connection goroutine.
class ResponseWriter {
 public:
  // Status line and fields. A Content-Length among them frames the body by length (writing
  // more fails, writing less closes the connection after the response); without one the body
  // is chunked (HTTP/1.1) or ends with the connection (HTTP/1.0). Transfer-Encoding and
  // Connection are the writer's own; "Connection: close" from the handler closes after.
  Result<void> write_header(int status, std::span<const Header> headers = {});
  Result<void> write_header(int status, std::initializer_list<Header> headers) {
    return write_header(status, std::span<const Header>(headers.begin(), headers.size()));
  }
  // Body bytes; calls write_header(200) first if needed. Large writes go straight to the
  // socket (no copy); parks while the socket's send buffer is full.
  Result<void> write(std::string_view data);
  // Sends what is buffered now (committing the head and chunked framing if still open).
  Result<void> flush();
  // A whole response with its Content-Length: one write for head and body.
  Result<void> reply(int status, std::string_view body, std::span<const Header> headers = {});
  Result<void> reply(int status, std::string_view body, std::initializer_list<Header> headers) {
    return reply(status, body, std::span<const Header>(headers.begin(), headers.size()));
  }

  // Ends the response without completing its framing and closes the connection after the
  // bytes already buffered: the client sees a truncated body, never a complete-looking one.
  // For a proxy whose upstream failed after the head was forwarded.
  void abort();
  // Takes back a response none of whose bytes have been sent yet (head and body still
  // buffered): true, and the writer is as before write_header, so the handler can answer
  // otherwise (a proxy's 502 when the upstream body fails before its first byte went out).
  // False once anything of it was sent, or after abort().
  bool retract();

  bool header_written() const { return state_ != State::kNone; }
  int status() const { return status_; }
  std::uint64_t body_bytes() const { return written_; }

 private:
  friend class internal::ServerConn;
  enum class State : std::uint8_t { kNone, kHeadOpen, kCommitted, kFinished, kFailed };
  enum class BodyMode : std::uint8_t { kNone, kLength, kChunked, kUntilClose, kDiscard };

  void reset(internal::ServerConn* conn, const RequestHead* req);
  Result<void> commit(BodyMode mode);
  // The framing of a body whose length is not known when the head must go out.
  BodyMode open_mode() const;
  Result<void> send_body(std::string_view data);
  // Ends the response (chunked terminator, short-body check); false: the connection must close.
  bool finish();
  Result<void> fail(Error e);

  // The connection's output buffer was written to the socket (nothing in it can be changed).
  void out_sent() { head_at_ = conn_field_at_ = std::string::npos; }
  // The connection closes after this response: if its head is unsent and did not say so, it
  // now says "Connection: close" (in place of HTTP/1.0's "keep-alive").
  void announce_close();

  internal::ServerConn* conn_ = nullptr;
  std::string* out_ = nullptr;
  // Where this response's head starts in *out_, while none of it has been sent; else npos.
  std::size_t head_at_ = std::string::npos;
  // Where its Connection field is (or would go, length 0), while the head is unsent and says
  // the connection stays open; else npos.
  std::size_t conn_field_at_ = std::string::npos;
  std::size_t conn_field_len_ = 0;
  State state_ = State::kNone;
  BodyMode mode_ = BodyMode::kNone;
  int status_ = 0;
  bool head_request_ = false;
  bool http10_ = false;
  std::uint64_t declared_ = 0;
  std::uint64_t written_ = 0;
  std::string pending_body_;  // kHeadOpen: body bytes held back to learn the length
};

using Handler = std::function<void(Request&, ResponseWriter&)>;

// A server's stats (base/stats.h): live in the server, a snapshot from stats().
template <class Cells>
struct ServerStatsOf {
  typename Cells::Counter accepted{};
  typename Cells::Counter rejected{};
  // Also the admission count against max_connections and what shutdown waits on: updated and
  // read with seq_cst there (the default order of the atomic it replaced).
  typename Cells::Gauge active{};
  typename Cells::Counter requests{};
  typename Cells::Counter refused_requests{};
  typename Cells::Gauge peak_read_buffer{};

  template <class F, class... S>
  static constexpr void each(F&& f, S&&... s) {
    f(base::MetricInfo{"connections", "Connections open (being served)."}, s.active...);
    f(base::MetricInfo{"connections_refused_total",
                       "Connections answered 503 and closed: max_connections were open."},
      s.rejected...);
    f(base::MetricInfo{"connections_accepted_total", "Connections accepted."}, s.accepted...);
    f(base::MetricInfo{"requests_total", "Requests answered, on connections that have closed."},
      s.requests...);
    f(base::MetricInfo{"requests_refused_total",
                       "Requests answered with an error before the handler: a malformed head "
                       "(400, 414, 431, 501, 505, 417) or one too slow (408)."},
      s.refused_requests...);
    f(base::MetricInfo{"read_buffer_peak_bytes", "Largest connection read buffer seen."},
      s.peak_read_buffer...);
  }
};
using ServerStats = ServerStatsOf<base::SnapshotCells>;

class Server {
 public:
  explicit Server(Handler handler, ServerOptions options = {});
  // Calls shutdown() if serve() ran and shutdown was not called; from a goroutine.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Accepts connections on l until shutdown() closes it, one goroutine per connection. Parks
  // the caller. Several serve() calls may run at once (one per SO_REUSEPORT listener).
  // Returns ok after shutdown, or the accept error that stopped it.
  Result<void> serve(net::Listener& l);
  // Graceful shutdown, the protocol in server.cc: stop accepting, close idle connections,
  // let in-flight requests finish (their responses say "Connection: close"), and after
  // `grace` close whatever is left. Parks until every connection goroutine has returned.
  void shutdown(base::Duration grace = net::kNoTimeout);

  ServerStats stats() const;
  const ServerOptions& options() const { return options_; }

 private:
  friend class internal::ServerConn;
  void track(internal::ServerConn* c);
  void untrack(internal::ServerConn* c);
  void serve_connection(net::Conn c);
  void reject_connection(net::Conn c);

  Handler handler_;
  ServerOptions options_;
  std::atomic<bool> shutting_down_{false};
  ServerStatsOf<base::LiveCells> stats_;
  runtime::WaitGroup goroutines_;  // accept loops and connection goroutines
  // Connections and listeners, for shutdown: touched once per connection, never per request.
  mutable runtime::Mutex mu_;
  internal::ServerConn* conns_ GUARDED_BY(mu_) = nullptr;  // intrusive doubly-linked list
  std::vector<net::Listener*> listeners_ GUARDED_BY(mu_);
  bool served_ = false;
};

}  // namespace spindle::http
