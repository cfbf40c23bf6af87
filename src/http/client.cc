// Client: one exchange is (1) take a connection from the host's pool, (2) write the head and
// stream the body, (3) read the response head, skipping 1xx, (4) hand the connection to a
// ClientResponse that streams the body and gives the connection back at its clean end.
//
// Retry. A reused connection can die between the pool's peek and our write (the server's
// idle timeout fires just then). If an attempt on a reused connection fails with no byte of
// response received and the request is replayable (idempotent method, rewindable body), the
// request is sent once more on a freshly dialled connection. Never for POST and other
// non-idempotent methods, and never after any response byte arrived: the server may have
// acted on it.
#include "http/client.h"

#include "http/chars.h"
#include "http/wire_format.h"
#include "runtime/runtime.h"

namespace spindle::http {

namespace {

using base::Clock;
using base::TimePoint;

Error canceled() { return Error{ErrorCode::kCanceled, Side::kInternal, false, 499, "canceled"}; }

Error in_phase(Error e, Phase phase) {
  e.phase = phase;
  return e;
}

// Appends the request head to c.out (not written yet).
Result<void> build_head(PooledConn& c, const ClientRequest& req, std::string_view host) {
  std::string& out = c.out;
  out.clear();
  std::string_view method =
      !req.method_token.empty() ? req.method_token : std::string_view(to_string(req.method));
  append_request_line(out, method, req.target);
  append_field(out, "Host", req.host.empty() ? host : req.host);
  for (const Header& h : req.headers) {
    if (!valid_field(h.name, h.value)) {
      return Error{ErrorCode::kBadArgument, Side::kInternal, false, 0, "invalid header field"};
    }
    if (is_framing_field(h.name) || chars::iequals(h.name, "Host")) continue;
    append_field(out, h.name, h.value);
  }
  if (req.body != nullptr && req.content_length) {
    append_field(out, "Content-Length", *req.content_length);
  } else if (req.body != nullptr) {
    out += "Transfer-Encoding: chunked\r\n";
  }
  out += "\r\n";
  return {};
}

// Writes c.out (the head) and then the body, if any. Runs on the caller's goroutine, or on the
// body writer goroutine for a duplex exchange (then nothing else touches c.out or writes c.conn).
Result<void> write_head_and_body(PooledConn& c, BodySource* body,
                                 std::optional<std::uint64_t> content_length,
                                 base::Duration write_timeout) {
  std::string& out = c.out;
  const bool chunked = body != nullptr && !content_length;
  if (write_timeout != net::kNoTimeout)
    (void)c.conn.set_write_deadline(Clock::now() + write_timeout);
  std::uint64_t sent = 0;
  while (body != nullptr) {
    auto piece = body->next();
    if (!piece) return piece.error();
    if (piece->empty()) break;
    sent += piece->size();
    if (content_length && sent > *content_length) {
      return Error{ErrorCode::kBodyLength, Side::kInternal, false, 0, "body longer than declared"};
    }
    if (chunked) append_chunk_size(out, piece->size());
    std::string_view parts[3] = {out, *piece, "\r\n"};
    auto w = c.conn.writev(std::span<const std::string_view>(parts, chunked ? 3 : 2));
    out.clear();
    if (!w) return Error::from_net(w.error(), Side::kUpstream);
    if (write_timeout != net::kNoTimeout)
      (void)c.conn.set_write_deadline(Clock::now() + write_timeout);
  }
  if (content_length && sent != *content_length && body != nullptr) {
    return Error{ErrorCode::kBodyLength, Side::kInternal, false, 0, "body shorter than declared"};
  }
  if (chunked) out += "0\r\n\r\n";
  if (!out.empty()) {
    auto w = c.conn.write(out);
    out.clear();
    if (!w) return Error::from_net(w.error(), Side::kUpstream);
  }
  return {};
}

// Bodies of unknown length or longer than this are written by a goroutine of their own while
// the caller reads the response (full duplex): a backend that streams its answer while it
// reads (an echo) would otherwise fill both directions' socket buffers and deadlock.
constexpr std::uint64_t kDuplexThreshold = 64 * 1024;

// Whether send() writes req's body on a goroutine of its own (full duplex): then the body
// source may still be read after send() returned, until the ClientResponse is closed.
bool writes_body_in_background(const ClientRequest& req) {
  return req.body != nullptr && (!req.content_length || *req.content_length > kDuplexThreshold);
}

// Starts the body writer goroutine of a duplex exchange.
void start_body_writer(PooledConn& c, const ClientRequest& req, base::Duration write_timeout) {
  c.body_writing = true;
  c.body_write_ok.store(false, std::memory_order_relaxed);
  c.body_written_ns.store(0, std::memory_order_relaxed);
  c.body_writer.add(1);
  runtime::go(
      [&c, body = req.body, length = req.content_length, write_timeout, cancel = req.cancel] {
        Result<void> r = write_head_and_body(c, body, length, write_timeout);
        // Ends (ok or not) the wait the response-header timeout does not count
        // (read_response_head).
        c.body_written_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
        if (r && cancel != nullptr) cancel->arm();  // before done(): the caller joins us first
        if (!r) c.body_error = in_phase(r.error(), Phase::kSendRequest);
        c.body_write_ok.store(r.ok(), std::memory_order_release);
        if (!r) (void)c.conn.shutdown(net::ShutdownHow::kRead);  // wake the reader: it failed
        c.body_writer.done();
      });
}

}  // namespace

void join_body_writer(PooledConn& c, bool force) {
  if (!c.body_writing) return;
  if (force) (void)c.conn.set_write_deadline(TimePoint::min() + std::chrono::nanoseconds(1));
  c.body_writer.wait();
  c.body_writing = false;
  (void)c.conn.set_write_deadline(TimePoint::max());
}

namespace {

// The response-header timeout runs from the end of the request: while a body writer is still
// sending the body (the client is slow to send it, and the backend waits for it), it does not
// count. A timeout then is re-armed from the writer's end, or for another period while it
// writes (bodies are bounded in time by whoever feeds the writer: lb/request_body.h).
// Returns whether the read may go on.
bool extend_header_deadline(PooledConn& c, const ClientOptions& o) {
  if (!c.body_writing) return false;
  const std::int64_t written = c.body_written_ns.load(std::memory_order_acquire);
  const TimePoint from = written == 0 ? Clock::now() : TimePoint(Clock::duration(written));
  const TimePoint until = from + o.response_header_timeout;
  if (until <= Clock::now()) return false;
  (void)c.conn.set_read_deadline(until);
  return true;
}

// Reads heads until a final (non-1xx) one; the error otherwise, in phase kAwaitResponse while
// no byte of the response arrived, else kResponseHead.
Result<void> read_response_head(PooledConn& c, const ClientOptions& o, bool* got_bytes) {
  const bool timed = o.response_header_timeout != net::kNoTimeout;
  if (timed) (void)c.conn.set_read_deadline(Clock::now() + o.response_header_timeout);
  auto fail = [&](Error e) {
    return in_phase(std::move(e), *got_bytes ? Phase::kResponseHead : Phase::kAwaitResponse);
  };
  for (;;) {
    ParseResult r = c.parser.parse(c.in.data());
    if (r.status == ParseStatus::kError) return fail(Error::from_parse(c.parser.error()));
    if (r.status == ParseStatus::kDone) {
      int status = c.parser.head().status;
      if (status >= 100 && status < 200 && status != 101) {  // interim: skip it
        c.in.consume(r.consumed);
        c.parser.reset();
        continue;
      }
      c.in.consume(r.consumed);
      break;
    }
    const Limits& lim = o.limits;
    auto n =
        c.in.fill(c.conn, o.read_buffer_size, lim.max_start_line + lim.max_header_section + 4096);
    if (!n && timed && n.error().timeout() && extend_header_deadline(c, o)) continue;
    if (!n) return fail(Error::from_net(n.error(), Side::kUpstream));
    if (*n == 0) {
      return fail(Error{ErrorCode::kNetwork, Side::kUpstream, false, 502,
                        "connection closed before the response head"});
    }
    *got_bytes = true;
  }
  (void)c.conn.set_read_deadline(TimePoint::max());
  return {};
}

// Sends the request (head and body, the body from a goroutine of its own for a duplex
// exchange), arms the request's Cancel once it is out, and reads the final response head.
Result<void> exchange_head(PooledConn& c, const ClientRequest& req, std::string_view host,
                           const ClientOptions& o, bool* got_bytes) {
  if (auto h = build_head(c, req, host); !h) return in_phase(h.error(), Phase::kSendRequest);
  if (writes_body_in_background(req)) {
    start_body_writer(c, req, o.write_timeout);
  } else {
    auto w = write_head_and_body(c, req.body, req.content_length, o.write_timeout);
    if (!w) return in_phase(w.error(), Phase::kSendRequest);
    if (req.cancel != nullptr) req.cancel->arm();
  }
  Result<void> r = read_response_head(c, o, got_bytes);
  if (r) return r;
  join_body_writer(c, /*force=*/true);
  // The writer failed on the caller's side (its body source broke or was refused): that, not
  // the reader's consequent error, is what happened, and the backend is not at fault.
  if (!c.body_write_ok.load(std::memory_order_acquire) && c.body_error.side == Side::kClient) {
    return c.body_error;
  }
  return r;
}

}  // namespace

bool replayable(const ClientRequest& req) {
  if (!is_idempotent(req.method)) return false;
  return req.body == nullptr || req.body->rewind();
}

ClientResponse::ClientResponse(HostPool* pool, std::unique_ptr<PooledConn> conn, Cancel* cancel)
    : pool_(pool), conn_(std::move(conn)), cancel_(cancel), reused_(conn_->reused) {}

Error ClientResponse::body_failure(Error e) {
  if (cancel_ != nullptr && cancel_->canceled()) return canceled();
  e.phase = Phase::kResponseBody;
  if (!conn_) return e;
  PooledConn& c = *conn_;
  join_body_writer(c, /*force=*/true);
  if (!c.body_write_ok.load(std::memory_order_acquire) && c.body_error.side == Side::kClient) {
    return c.body_error;
  }
  return e;
}

void ClientResponse::close() {
  if (!conn_) return;
  if (cancel_ != nullptr) cancel_->attach(nullptr);
  PooledConn& c = *conn_;
  // A request body still being written when the response ended (the backend answered without
  // reading it all): stop writing; the connection cannot be reused.
  join_body_writer(c, /*force=*/true);
  bool clean = c.body_write_ok.load(std::memory_order_acquire) && c.body.done() && c.in.empty() &&
               keep_alive(c.method, c.parser.head()) && c.conn.valid() &&
               (cancel_ == nullptr || !cancel_->canceled());
  c.in.unpin();
  pool_->release(std::move(conn_), clean);
}

Client::~Client() {
  runtime::MutexLock lock(mu_);
  pools_.clear();
}

HostPool& Client::pool(std::string_view address) {
  runtime::MutexLock lock(mu_);
  auto it = pools_.find(std::string(address));
  if (it == pools_.end()) {
    it = pools_
             .emplace(std::string(address),
                      std::make_unique<HostPool>(std::string(address), options_))
             .first;
  }
  return *it->second;
}

PoolStats Client::stats() const {
  PoolStats total{};
  runtime::MutexLock lock(mu_);
  for (const auto& [address, pool] : pools_) base::add_to(total, pool->stats());
  return total;
}

Result<ClientResponse> Client::send(std::string_view address, const ClientRequest& req) {
  return send(pool(address), req);
}

Result<ClientResponse> Client::send(HostPool& pool, const ClientRequest& req) {
  const ClientOptions& o = pool.options();
  for (int attempt = 0;; ++attempt) {
    if (req.cancel != nullptr && req.cancel->canceled()) return canceled();
    auto lease = pool.acquire(attempt > 0);
    if (!lease) return lease.error();
    std::unique_ptr<PooledConn> c = std::move(*lease);
    c->method = req.method;
    c->parser.reset();
    bool got_bytes = false;
    if (req.cancel != nullptr && !req.cancel->attach(&c->conn)) {
      pool.release(std::move(c), false);
      return canceled();
    }
    Result<void> r = exchange_head(*c, req, pool.address(), o, &got_bytes);
    if (r) {
      c->in.pin();
      c->body.start(&c->conn, &c->in, response_framing(req.method, c->parser.head()),
                    Side::kUpstream, o.limits, o.body_read_timeout);
      return ClientResponse(&pool, std::move(c), req.cancel);
    }
    if (req.cancel != nullptr) req.cancel->attach(nullptr);
    const bool was_reused = c->reused;
    pool.release(std::move(c), false);
    if (req.cancel != nullptr && req.cancel->canceled()) return canceled();
    Error e = r.error();
    if (attempt == 0 && was_reused && !got_bytes && e.code != ErrorCode::kBadArgument &&
        e.code != ErrorCode::kTimeout && replayable(req)) {
      pool.count_retry();
      continue;
    }
    e.retryable = !got_bytes && replayable(req);
    return e;
  }
}

}  // namespace spindle::http
