// Server
//
// A goroutine per connection (Go's net/http design): the goroutine reads a request head into
// the connection's ReadBuffer, runs the handler on it, writes the response, and loops; it
// parks in the netpoller between requests and holds no thread. Nothing on the request path
// takes a lock shared by connections: per-request counters live in the connection and are
// added to the server's totals when it closes; the server's mutex is taken twice per
// connection (track/untrack) and by shutdown.
//
// Buffers. Each connection owns a ReadBuffer (4 KiB to start; up to the head limits while a
// head is read; a 64 KiB window after the head while a body streams) and an output string.
// The head is pinned while the handler runs, so Request views stay valid while body bytes
// stream through the space behind it: a body of any size uses at most that window. A chunk
// line or trailer section that fills the space behind the head moves to a larger allocation
// (the head's stays until the request ends); the decoder's limits bound it. Responses
// are assembled in the output string and sent with one write; a body write larger than 16 KiB
// goes out with writev straight from the handler's memory. The output is flushed after each
// response unless the next pipelined request, head and body, is already complete in the buffer
// (then responses are batched, up to 16 KiB): never held while we wait for the client.
//
// Connection states (ServerConn::state_), for shutdown:
//   kIdle    waiting for the first byte of a request (no bytes buffered)
//   kActive  reading a head, running the handler, writing the response
//   kClosing shutdown has claimed an idle connection; the goroutine closes it on waking
// The goroutine stores kIdle and then reads shutting_down_; shutdown stores shutting_down_ and
// then reads every state (both sequentially consistent), so at least one of them sees the
// other: an idle connection is never missed. A request whose first byte arrives after the
// claim (the CAS kIdle -> kActive fails) is still served, with "Connection: close".
//
// Graceful shutdown (Server::shutdown):
//   1. Set shutting_down_. From now on every response carries "Connection: close" and its
//      connection closes after it.
//   2. Close every listener: accept loops return, new connections are refused by the kernel.
//   3. Claim every idle connection (CAS kIdle -> kClosing) and wake its goroutine by moving
//      its read deadline to the past; it closes the connection.
//   4. Wait (polling the active count, 1 ms doubling to 50 ms) until every connection has
//      closed or `grace` has passed.
//   5. After `grace`: close the remaining connections (their reads and writes fail at once).
//   6. Wait for every goroutine (accept loops, connections) to return.
//
// Errors. A request the parser rejects is answered with its status (400, 414, 431, 501, 505,
// 417) and "Connection: close", after the answers to the requests before it; a head not
// complete within read_header_timeout gets 408 and "Connection: close" if any of it arrived,
// and a silent close if none did (an idle timeout). Every answer after which the connection
// closes says "Connection: close" if its head is still unsent when that is decided (a failed
// or unread body is only known once the handler returned: ServerConn::finish_request patches
// the buffered head). When the client may still be sending (an error, an unread body,
// pipelined requests left) the close is a lingering close: shut down the write side, then
// read and drop input until the client closes, pauses 500 ms, or 5 s passed, so the client
// reads the answer instead of a reset.
//
// Connection limit: above max_connections a new connection is accepted and answered "503
// Service Unavailable" with "Connection: close" and "Retry-After: 1" by a short-lived
// goroutine. Rejected alternative: stop accepting (Go's LimitListener); the kernel backlog
// then holds clients for their full connect timeout with no signal, while a load balancer in
// front of us can act on a 503 at once (retry elsewhere).
#include "http/server.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

#include "base/check.h"
#include "http/chars.h"
#include "http/head_parser.h"
#include "http/wire_format.h"
#include "runtime/runtime.h"
#include "runtime/time.h"

namespace spindle::http {

namespace {

using base::Clock;
using base::TimePoint;

constexpr std::size_t kFlushThreshold = 16 * 1024;  // batch below, write through above
constexpr std::size_t kPendingBodyMax = 4 * 1024;   // held back to compute Content-Length
// Lingering close: after an answer the server closes on while the client may still be
// sending, read and drop its bytes until it closes, pauses this long, or kLingerTotal passed.
constexpr base::Duration kLingerIdle = std::chrono::milliseconds(500);
constexpr base::Duration kLingerTotal = std::chrono::seconds(5);

enum ConnState : int { kIdle, kActive, kClosing };

}  // namespace

namespace internal {

// Request::disconnect(): armed, it starts the connection's disconnect watcher, which cancels it.
class DisconnectCancel final : public Cancel {
 public:
  explicit DisconnectCancel(ServerConn* conn) : conn_(conn) {}
  void arm() override;
  using Cancel::reset;

 private:
  ServerConn* conn_;
};

// One connection and its goroutine; see the top of this file.
class ServerConn {
 public:
  ServerConn(Server* server, net::Conn conn)
      : server_(server),
        opts_(server->options_),
        conn_(std::move(conn)),
        in_(opts_.read_buffer_size),
        parser_(opts_.limits) {
    out_.reserve(1024);
  }

  void serve();

  // Shutdown step 3: true if this connection was idle and is now claimed.
  bool claim_idle() {
    int expected = kIdle;
    if (!state_.compare_exchange_strong(expected, kClosing)) return false;
    (void)conn_.set_read_deadline(TimePoint::min() + std::chrono::nanoseconds(1));
    return true;
  }
  void force_close() { (void)conn_.close(); }

  // The disconnect watcher: started by DisconnectCancel::arm, stopped when the handler returns.
  void watch_disconnect();
  void stop_watch();

  // Writes out_ and `extra` (no copy), with the write deadline; clears out_. On the handler's
  // goroutine (or the connection's, outside the handler).
  Result<void> send(std::span<const std::string_view> extra = {});
  // Expect: 100-continue; see "100 Continue" below.
  void send_continue();
  void settle_continue();
  bool closing() const { return closing_ || server_->shutting_down_.load(); }
  void set_closing() { closing_ = true; }

  ServerConn* prev = nullptr;  // Server::conns_ links, under Server::mu_
  ServerConn* next = nullptr;
  const net::Address& peer() const { return conn_.peer_address(); }
  std::string_view peer_ip() {
    if (!peer_ip_) peer_ip_ = peer().ip_string();
    return *peer_ip_;
  }
  std::string& out() { return out_; }

 private:
  friend class http::ResponseWriter;
  enum class HeadStatus { kOk, kClose };
  bool wait_for_request();
  HeadStatus read_head();
  void answer_error(int status, const char* reason);
  void linger_close();
  bool run_request();
  // After the handler: drops or drains what it left of the body; false to close.
  bool finish_request(const RequestHead& head);

  Server* server_;
  const ServerOptions& opts_;
  net::Conn conn_;
  ReadBuffer in_;
  std::string out_;
  RequestParser parser_;
  BodyReader body_;
  Request request_;
  ResponseWriter writer_;
  std::atomic<int> state_{kActive};
  bool closing_ = false;
  bool linger_ = false;  // close with a lingering close: the client may still be sending
  std::uint64_t requests_ = 0;
  // 100 Continue. The body's first read sends it, and that read may run on a goroutine the
  // handler started (a proxy's upstream body writer) while the handler writes its response,
  // so the two writers are serialised: send_continue() writes the 100 with continue_mu_ held
  // and only while it is owed; send() first settles it (settle_continue): a 100 being written
  // is waited for, one not sent yet is withheld, since it would follow the final response.
  // Only one goroutine writes the socket at a time, and a 100 never follows the response.
  enum Continue : std::uint8_t { kNotExpected, kOwed, kSent, kWithheld };
  std::atomic<std::uint8_t> continue_{kNotExpected};
  runtime::Mutex continue_mu_;
  // The disconnect watcher (at most one per request): a read hook on the connection, whose
  // goroutine (run_watch) exists only once the client sent or closed something meanwhile; it
  // fires disconnect_ when the client has gone.
  DisconnectCancel disconnect_{this};
  struct Watch {
    bool active = false;
    runtime::PollHook hook;
    runtime::WaitGroup done;        // run_watch has returned
    std::atomic<bool> stop{false};  // stop_watch asks run_watch to return
    std::string bytes;              // read from the client meanwhile: the next request's
  };
  void run_watch();
  Watch watch_;
  std::atomic<bool> gone_{false};
  std::optional<std::string> peer_ip_;
};

Result<void> ServerConn::send(std::span<const std::string_view> extra) {
  settle_continue();
  if (opts_.write_timeout != net::kNoTimeout) {
    (void)conn_.set_write_deadline(Clock::now() + opts_.write_timeout);
  }
  net::Result<std::size_t> r = std::size_t{0};
  if (extra.empty()) {
    if (out_.empty()) return {};
    r = conn_.write(out_);
  } else {
    std::string_view parts[4];
    std::size_t n = 0;
    if (!out_.empty()) parts[n++] = out_;
    for (std::string_view e : extra) parts[n++] = e;
    r = conn_.writev(std::span<const std::string_view>(parts, n));
  }
  out_.clear();
  writer_.out_sent();
  if (!r) return Error::from_net(r.error(), Side::kClient);
  return {};
}

// Before the body's first read from the connection, on the goroutine reading the body. Writes
// the 100 directly, not through out_ (the handler's): out_ holds at most this request's
// unsent answer then, since run_request flushes earlier answers before a body that is not in
// the buffer yet, and a body that is needs no read.
void ServerConn::send_continue() {
  runtime::MutexLock lock(continue_mu_);
  if (continue_.load(std::memory_order_relaxed) != kOwed) return;
  if (opts_.write_timeout != net::kNoTimeout) {
    (void)conn_.set_write_deadline(Clock::now() + opts_.write_timeout);
  }
  (void)conn_.write("HTTP/1.1 100 Continue\r\n\r\n");
  // Pairs with the acquire load in settle_continue: a send() that reads kSent without the
  // lock starts writing after this write has returned.
  continue_.store(kSent, std::memory_order_release);
}

// Before any byte goes out: waits for a 100 being written, or withholds one not sent yet.
void ServerConn::settle_continue() {
  if (continue_.load(std::memory_order_acquire) != kOwed) return;
  runtime::MutexLock lock(continue_mu_);
  if (continue_.load(std::memory_order_relaxed) == kOwed) {
    continue_.store(kWithheld, std::memory_order_relaxed);
  }
}

bool ServerConn::wait_for_request() {
  if (!in_.empty()) return true;  // pipelined
  if (!out_.empty() && !send()) return false;
  state_.store(kIdle);
  if (server_->shutting_down_.load()) return false;
  (void)conn_.set_read_deadline(Clock::now() + opts_.idle_timeout);
  auto n = in_.fill(conn_, opts_.read_buffer_size,
                    opts_.limits.max_start_line + opts_.limits.max_header_section);
  int expected = kIdle;
  if (!state_.compare_exchange_strong(expected, kActive)) {
    // Claimed by shutdown: serve what arrived (with Connection: close), else close.
    state_.store(kActive);
    closing_ = true;
    if (!n || *n == 0) return false;
    (void)conn_.set_read_deadline(TimePoint::max());
  }
  return n && *n > 0;
}

ServerConn::HeadStatus ServerConn::read_head() {
  const Limits& lim = opts_.limits;
  const std::size_t max_head = lim.max_start_line + lim.max_header_section + 4096;
  const std::size_t want = opts_.read_buffer_size;
  bool deadline_set = false;
  for (;;) {
    ParseResult r = parser_.parse(in_.data());
    if (r.status == ParseStatus::kDone) {
      in_.consume(r.consumed);
      if (deadline_set) (void)conn_.set_read_deadline(TimePoint::max());
      return HeadStatus::kOk;
    }
    if (r.status == ParseStatus::kError) {
      answer_error(parser_.error().status, parser_.error().reason);
      return HeadStatus::kClose;
    }
    if (!deadline_set) {
      (void)conn_.set_read_deadline(Clock::now() + opts_.read_header_timeout);
      deadline_set = true;
    }
    // The next request is not complete: answers batched so far go out before we wait.
    if (!out_.empty() && !send()) return HeadStatus::kClose;
    auto n = in_.fill(conn_, want, max_head);
    if (!n) {
      if (n.error().timeout() && !in_.empty() && state_.load() != kClosing) {
        answer_error(408, "request header timeout");
      }
      return HeadStatus::kClose;
    }
    if (*n == 0) return HeadStatus::kClose;  // the client gave up mid-head
  }
}

// After the answers to the requests before it (still batched in out_).
void ServerConn::answer_error(int status, const char* reason) {
  server_->stats_.refused_requests.add();
  append_status_line(out_, status);
  append_date(out_);
  out_ += "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n";
  std::string_view body(reason);
  append_field(out_, "Content-Length", body.size() + 1);
  out_ += "\r\n";
  out_ += body;
  out_ += '\n';
  linger_ = true;
}

// Closing with unread input makes the kernel send a reset, which can destroy the answer in
// the client's receive buffer before the client read it. So shut down writing (the client
// reads the answer and then end of stream) and read and drop what still comes, bounded.
void ServerConn::linger_close() {
  (void)conn_.shutdown(net::ShutdownHow::kWrite);
  const TimePoint until = Clock::now() + kLingerTotal;
  char sink[16 * 1024];
  for (TimePoint now = Clock::now(); now < until; now = Clock::now()) {
    (void)conn_.set_read_deadline(std::min(until, now + kLingerIdle));
    auto n = conn_.read(sink);
    if (!n || *n == 0) break;
  }
}

bool ServerConn::run_request() {
  const RequestHead& head = parser_.head();
  const BodyFraming framing = request_framing(head);
  const bool body_buffered =
      framing.kind == Framing::kNone ||
      (framing.kind == Framing::kContentLength && in_.size() >= framing.length);
  // The handler may wait for body bytes: answers batched so far go out first.
  if (!body_buffered && !out_.empty() && !send()) {
    parser_.reset();
    return false;
  }
  in_.pin();
  body_.start(&conn_, &in_, framing, Side::kClient, opts_.limits, opts_.body_read_timeout);
  continue_.store(head.expect_continue ? kOwed : kNotExpected, std::memory_order_relaxed);
  if (head.expect_continue) {
    body_.set_before_first_read([](void* c) { static_cast<ServerConn*>(c)->send_continue(); },
                                this);
  }
  if (!keep_alive(head)) closing_ = true;
  request_.head_ = &head;
  request_.body_ = &body_;
  request_.conn_ = this;
  request_.disconnect_ = &disconnect_;
  disconnect_.reset();
  writer_.reset(this, &head);
  server_->handler_(request_, writer_);
  if (watch_.active) stop_watch();
  ++requests_;
  const bool clean = finish_request(head);
  in_.unpin();
  if (watch_.active) {
    in_.append(watch_.bytes);
    watch_.bytes.clear();
    watch_.active = false;
  }
  parser_.reset();
  return clean && !closing();
}

// The handler returned (every goroutine it started to read the body has been joined). Decides
// whether the connection stays open, and if not makes the answer say "Connection: close" while
// its head is still unsent. A body the handler did not read is dropped if it is already in the
// buffer. Otherwise the answer goes out at once (never held until the body arrives); then a
// Content-Length rest up to max_unread_body is read and dropped to keep the connection, and
// anything else (a longer or chunked rest, a failed body, a client waiting for 100 Continue)
// closes it with a lingering close.
bool ServerConn::finish_request(const RequestHead& head) {
  bool clean = writer_.finish();
  bool drain = false;
  if (!body_.done() && !body_.discard_buffered()) {
    const std::optional<std::uint64_t> rest = body_.remaining_length();
    const bool awaiting_continue =
        head.expect_continue && continue_.load(std::memory_order_relaxed) != kSent;
    drain = clean && !closing() && !body_.failed() && !awaiting_continue && rest &&
            *rest <= opts_.max_unread_body;
    if (!drain) {
      clean = false;
      linger_ = true;
    }
  }
  if (!clean || closing()) {
    closing_ = true;
    writer_.announce_close();
    if (!in_.empty()) linger_ = true;  // pipelined requests we will not answer
    return false;
  }
  if (!drain) return true;
  if (!send()) return false;
  return body_.discard(opts_.max_unread_body);
}

void ServerConn::serve() {
  while (wait_for_request()) {
    if (read_head() != HeadStatus::kOk) break;
    if (!run_request()) break;
    // Batch responses to pipelined requests; flush once the batch is large.
    if (out_.size() >= kFlushThreshold && !send()) break;
  }
  if ((out_.empty() || send()) && linger_) linger_close();
  server_->stats_.requests.add(requests_);
  server_->stats_.peak_read_buffer.raise_to(static_cast<std::int64_t>(in_.capacity()));
  (void)conn_.close();
}

void DisconnectCancel::arm() { conn_->watch_disconnect(); }

// On the goroutine that arms the Cancel: the handler's, or one it started and joins before it
// returns (the HTTP client's body writer), so watch_ is the handler's again when stop_watch runs.
void ServerConn::watch_disconnect() {
  if (watch_.active || !body_.done()) return;
  watch_.active = true;
  watch_.stop.store(false, std::memory_order_relaxed);
  watch_.done.add(1);
  watch_.hook.fn = [this] { run_watch(); };
  if (!conn_.arm_read_hook(&watch_.hook)) runtime::go(std::move(watch_.hook.fn));
}

// The watcher's goroutine: the client sent bytes (a pipelined request) or closed.
void ServerConn::run_watch() {
  // stop_watch wakes a parked read with a past deadline; set ours first, then look at the
  // flag, so a stop that came before cannot be overwritten.
  (void)conn_.set_read_deadline(TimePoint::max());
  char buf[4096];
  while (!watch_.stop.load(std::memory_order_acquire)) {
    auto n = conn_.read(buf);
    if (n && *n > 0) {
      watch_.bytes.append(buf, *n);
      if (watch_.bytes.size() < 64 * 1024) continue;
      break;  // enough pipelined input: stop reading (backpressure), not a disconnect
    }
    if (!n && n.error().timeout()) break;  // stop_watch() woke us
    gone_.store(true, std::memory_order_release);
    disconnect_.cancel();
    break;
  }
  watch_.done.done();
}

void ServerConn::stop_watch() {
  if (conn_.disarm_read_hook()) {  // the common case: the client did nothing meanwhile
    watch_.done.done();
    return;
  }
  watch_.stop.store(true, std::memory_order_release);
  (void)conn_.set_read_deadline(TimePoint::min() + std::chrono::nanoseconds(1));
  watch_.done.wait();
  (void)conn_.set_read_deadline(TimePoint::max());
  if (gone_.load()) closing_ = true;
}

}  // namespace internal

// Request

const net::Address& Request::remote_address() const { return conn_->peer(); }
std::string_view Request::remote_ip() const { return conn_->peer_ip(); }
Cancel& Request::disconnect() { return *disconnect_; }

// ResponseWriter

void ResponseWriter::reset(internal::ServerConn* conn, const RequestHead* req) {
  conn_ = conn;
  out_ = &conn->out();
  state_ = State::kNone;
  mode_ = BodyMode::kNone;
  status_ = 0;
  head_request_ = req->method == Method::kHead;
  http10_ = req->version.minor == 0;
  declared_ = 0;
  written_ = 0;
  pending_body_.clear();
  head_at_ = conn_field_at_ = std::string::npos;
}

void ResponseWriter::announce_close() {
  if (conn_field_at_ == std::string::npos) return;
  out_->replace(conn_field_at_, conn_field_len_, "Connection: close\r\n");
  conn_field_at_ = std::string::npos;
}

Result<void> ResponseWriter::fail(Error e) {
  state_ = State::kFailed;
  conn_->set_closing();
  return e;
}

void ResponseWriter::abort() {
  if (state_ == State::kHeadOpen) (void)commit(open_mode());  // the head, never the held body
  pending_body_.clear();
  state_ = State::kFailed;
  conn_->set_closing();
}

bool ResponseWriter::retract() {
  if (state_ == State::kNone) return true;
  if (state_ == State::kFailed || state_ == State::kFinished || head_at_ == std::string::npos) {
    return false;
  }
  out_->resize(head_at_);
  head_at_ = conn_field_at_ = std::string::npos;
  state_ = State::kNone;
  mode_ = BodyMode::kNone;
  status_ = 0;
  declared_ = 0;
  written_ = 0;
  pending_body_.clear();
  return true;
}

Result<void> ResponseWriter::write_header(int status, std::span<const Header> headers) {
  if (state_ != State::kNone) {
    return Error{ErrorCode::kBadArgument, Side::kInternal, false, 0, "header already written"};
  }
  if (status < 200 || status > 999) {
    return Error{ErrorCode::kBadArgument, Side::kInternal, false, 0, "status out of range"};
  }
  std::optional<std::uint64_t> length;
  bool has_date = false;
  for (const Header& h : headers) {
    if (!valid_field(h.name, h.value)) {
      return Error{ErrorCode::kBadArgument, Side::kInternal, false, 0, "invalid header field"};
    }
  }
  status_ = status;
  head_at_ = out_->size();
  append_status_line(*out_, status);
  for (const Header& h : headers) {
    if (is_framing_field(h.name)) {
      if (chars::iequals(h.name, "Content-Length")) {
        std::uint64_t v = 0;
        auto [p, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), v);
        if (ec == std::errc() && p == h.value.data() + h.value.size()) length = v;
      } else if (chars::iequals(h.name, "Connection") && list_contains(h.value, "close")) {
        conn_->set_closing();
      }
      continue;
    }
    if (chars::iequals(h.name, "Date")) has_date = true;
    append_field(*out_, h.name, h.value);
  }
  if (!has_date) append_date(*out_);
  state_ = State::kHeadOpen;
  bool no_body = status == 204 || status == 304;
  if (no_body) return commit(BodyMode::kNone);
  if (length) {
    declared_ = *length;
    return commit(head_request_ ? BodyMode::kDiscard : BodyMode::kLength);
  }
  return {};  // stays open: the first large write or finish() chooses the framing
}

Result<void> ResponseWriter::commit(BodyMode mode) {
  mode_ = mode;
  if (mode == BodyMode::kUntilClose) conn_->set_closing();
  if (mode == BodyMode::kLength || (mode == BodyMode::kDiscard && declared_ > 0)) {
    append_field(*out_, "Content-Length", declared_);
  } else if (mode == BodyMode::kChunked) {
    *out_ += "Transfer-Encoding: chunked\r\n";
  }
  if (conn_->closing()) {
    *out_ += "Connection: close\r\n";
  } else {
    conn_field_at_ = out_->size();
    if (http10_) *out_ += "Connection: keep-alive\r\n";
    conn_field_len_ = out_->size() - conn_field_at_;
  }
  *out_ += "\r\n";
  state_ = State::kCommitted;
  return {};
}

Result<void> ResponseWriter::send_body(std::string_view data) {
  if (data.empty()) return {};
  if (mode_ == BodyMode::kDiscard) return {};
  if (mode_ == BodyMode::kNone) {
    return Error{ErrorCode::kBadArgument, Side::kInternal, false, 0, "status has no body"};
  }
  if (mode_ == BodyMode::kLength && written_ + data.size() > declared_) {
    return fail(
        Error{ErrorCode::kBodyLength, Side::kInternal, false, 0, "body longer than declared"});
  }
  written_ += data.size();
  const bool chunked = mode_ == BodyMode::kChunked;
  if (chunked) append_chunk_size(*out_, data.size());
  if (out_->size() + data.size() <= kFlushThreshold) {
    *out_ += data;
    if (chunked) *out_ += "\r\n";
    return {};
  }
  std::string_view parts[2] = {data, "\r\n"};
  auto r = conn_->send(std::span<const std::string_view>(parts, chunked ? 2 : 1));
  if (!r) return fail(r.error());
  return {};
}

ResponseWriter::BodyMode ResponseWriter::open_mode() const {
  if (head_request_) return BodyMode::kDiscard;
  return http10_ ? BodyMode::kUntilClose : BodyMode::kChunked;
}

Result<void> ResponseWriter::write(std::string_view data) {
  if (state_ == State::kFailed || state_ == State::kFinished) {
    return Error{ErrorCode::kClosed, Side::kClient, false, 0, "response already ended"};
  }
  if (state_ == State::kNone) {
    if (auto r = write_header(200); !r) return r;
  }
  if (state_ == State::kHeadOpen) {
    if (pending_body_.size() + data.size() <= kPendingBodyMax) {
      pending_body_ += data;
      written_ += data.size();
      return {};
    }
    if (auto r = commit(open_mode()); !r) return r;
    std::string held = std::move(pending_body_);
    written_ -= held.size();
    if (auto r = send_body(held); !r) return r;
  }
  return send_body(data);
}

Result<void> ResponseWriter::flush() {
  if (state_ == State::kHeadOpen) {
    if (auto r = commit(open_mode()); !r) return r;
    std::string held = std::move(pending_body_);
    written_ -= held.size();
    if (auto r = send_body(held); !r) return r;
  }
  auto r = conn_->send();
  if (!r) return fail(r.error());
  return {};
}

Result<void> ResponseWriter::reply(int status, std::string_view body,
                                   std::span<const Header> headers) {
  if (state_ != State::kNone) {
    return Error{ErrorCode::kBadArgument, Side::kInternal, false, 0, "header already written"};
  }
  if (auto r = write_header(status, headers); !r) return r;
  if (state_ == State::kHeadOpen) {
    declared_ = body.size();
    if (auto r = commit(head_request_ ? BodyMode::kDiscard : BodyMode::kLength); !r) return r;
  }
  return send_body(body);
}

bool ResponseWriter::finish() {
  if (state_ == State::kFailed) return false;
  if (state_ == State::kNone) (void)write_header(200);
  if (state_ == State::kHeadOpen) {
    declared_ = pending_body_.size();
    (void)commit(head_request_ ? BodyMode::kDiscard : BodyMode::kLength);
    if (!head_request_) *out_ += pending_body_;
  } else if (mode_ == BodyMode::kChunked) {
    *out_ += "0\r\n\r\n";
  } else if (mode_ == BodyMode::kLength && written_ < declared_) {
    state_ = State::kFinished;
    conn_->set_closing();  // the client is waiting for bytes that will never come
    return false;
  }
  state_ = State::kFinished;
  return mode_ != BodyMode::kUntilClose;
}

// Server

Server::Server(Handler handler, ServerOptions options)
    : handler_(std::move(handler)), options_(std::move(options)) {}

Server::~Server() {
  if (served_ && !shutting_down_.load()) shutdown();
}

void Server::track(internal::ServerConn* c) {
  runtime::MutexLock lock(mu_);
  c->next = conns_;
  if (conns_ != nullptr) conns_->prev = c;
  conns_ = c;
}

void Server::untrack(internal::ServerConn* c) {
  runtime::MutexLock lock(mu_);
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (conns_ == c) conns_ = c->next;
}

void Server::serve_connection(net::Conn c) {
  {
    internal::ServerConn conn(this, std::move(c));
    track(&conn);
    conn.serve();
    untrack(&conn);
  }
  // Not active until the connection's state and socket are gone.
  stats_.active.fetch_sub(1, std::memory_order_seq_cst);
  goroutines_.done();
}

void Server::reject_connection(net::Conn c) {
  std::string_view answer =
      "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
      "Content-Length: 20\r\n\r\ntoo many connections";
  (void)c.set_deadline(Clock::now() + kLingerIdle);
  if (c.write(answer)) {
    (void)c.shutdown(net::ShutdownHow::kWrite);
    char sink[1024];
    for (int i = 0; i < 64; ++i) {
      auto n = c.read(sink);
      if (!n || *n == 0) break;
    }
  }
  goroutines_.done();
}

Result<void> Server::serve(net::Listener& l) {
  {
    runtime::MutexLock lock(mu_);
    if (shutting_down_.load()) return Error{ErrorCode::kClosed, Side::kInternal, false, 0, ""};
    listeners_.push_back(&l);
    served_ = true;
    goroutines_.add(1);
  }
  Result<void> result;
  for (;;) {
    auto c = l.accept();
    if (!c) {
      if (!c.error().closed() || !shutting_down_.load()) {
        result = Error::from_net(c.error(), Side::kInternal);
      }
      break;
    }
    stats_.accepted.add();
    goroutines_.add(1);
    if (stats_.active.fetch_add(1, std::memory_order_seq_cst) >=
        static_cast<std::int64_t>(options_.max_connections)) {
      stats_.active.fetch_sub(1, std::memory_order_seq_cst);
      stats_.rejected.add();
      runtime::go([this, c = std::move(*c)]() mutable { reject_connection(std::move(c)); });
      continue;
    }
    runtime::go([this, c = std::move(*c)]() mutable { serve_connection(std::move(c)); });
  }
  {
    runtime::MutexLock lock(mu_);
    listeners_.erase(std::find(listeners_.begin(), listeners_.end(), &l));
  }
  goroutines_.done();
  return result;
}

void Server::shutdown(base::Duration grace) {
  shutting_down_.store(true);  // step 1
  {
    runtime::MutexLock lock(mu_);
    for (net::Listener* l : listeners_) (void)l->close();               // step 2
    for (auto* c = conns_; c != nullptr; c = c->next) c->claim_idle();  // step 3
  }
  const TimePoint until =
      grace == net::kNoTimeout ? TimePoint::max() : Clock::now() + grace;  // step 4
  base::Duration pause = std::chrono::milliseconds(1);
  while (stats_.active.load(std::memory_order_seq_cst) > 0 && Clock::now() < until) {
    runtime::sleep_for(pause);
    pause = std::min<base::Duration>(pause * 2, std::chrono::milliseconds(50));
  }
  if (stats_.active.load(std::memory_order_seq_cst) > 0) {  // step 5
    runtime::MutexLock lock(mu_);
    for (auto* c = conns_; c != nullptr; c = c->next) c->force_close();
  }
  goroutines_.wait();  // step 6
}

ServerStats Server::stats() const { return base::snapshot(stats_); }

}  // namespace spindle::http
