// The proxy's request path
// ========================
//
// Each client connection is a goroutine of http::Server; the proxy is its handler and runs on
// it, so a request parks on upstream I/O without holding a thread. For one request:
//
//  0. A body of known length is read first, up to --request-buffer (request_body.h): all of
//     a small one, so a client sending it slowly holds no slot and no backend. Every body's
//     reading is bounded in time (--body-timeout, --body-min-rate): then 408, the client's.
//  1. Admission (admission.h): one CAS when under --max-in-flight; otherwise wait up to the
//     queue deadline for a released slot, else 503 + Retry-After.
//  2. Snapshot: load the routable set (registry.h, snapshot.h) — lock-free; the request keeps
//     this snapshot, so backends it names stay alive even if deregistered meanwhile.
//     Empty: 503 with a sentence saying why.
//  3. Rewrite fields once (forwarding.h): hop-by-hop out first, then X-Forwarded-*, Via.
//  4. Pick (picker.h) and send through that backend's HostPool (http::Client): a pooled
//     keep-alive connection, the request head, then the client's body streamed piece by piece
//     (BodyReader views, no copy; backpressure by not reading).
//  5. Failure before a response head: the client's error says in which phase the exchange
//     failed (http::Error::phase), and next_step (failure_policy.h) decides, as one table:
//       - connect failed (refused, unreachable, connect timeout): nothing was sent, so any
//         method goes to another backend (up to kMaxAttempts tries, avoiding the last one);
//       - reset or EOF before any response byte, idempotent method, no request body: one retry
//         on another backend (the Client already retried once on a fresh connection when the
//         failed one was a reused keep-alive connection — the keep-alive race);
//       - response-header timeout: 504; client gone (kCanceled): nothing to answer; the
//         client's own body broken: its 4xx; other errors: 502.
//     Each failure of the backend counts against it (Registry::record_failure: consecutive
//     failures eject it for a growing back-off); the client's never do.
//  6. Response head: its end-to-end fields (+ Via, + Content-Length when length-framed) go
//     out with the status; the body streams back piece by piece. The request carries the
//     client's disconnect Cancel (Request::disconnect), which the HTTP client arms once the
//     request is sent whole: the client's disconnect cancels the upstream exchange (the
//     upstream connection is closed and never pooled), and the proxy sees kCanceled.
//  7. Upstream body fails: while nothing of the response has gone out (its head waits for the
//     first body bytes) it is taken back and answered 502 (504 for a timeout); after that the
//     response to the client is aborted (truncated framing, the connection closed), never
//     completed as if nothing happened.
//  8. The ClientResponse goes out of scope: its connection returns to the pool only if the
//     response was framed cleanly to its last byte (http::ClientResponse::close).
//
// Invariants: no process-wide lock on this path (the snapshot is read lock-free, counters are
// per-backend atomics, the pool lock is per backend); memory per request is bounded by the
// two connection buffers, whatever the body sizes.
#include "lb/proxy.h"

#include <string>

#include "lb/access_log.h"
#include "lb/failure_policy.h"
#include "lb/forwarding.h"

namespace spindle::lb {

namespace {

const http::Header kTextPlain[] = {{"Content-Type", "text/plain; charset=utf-8"}};
const http::Header kNoConnect[] = {
    {"Content-Type", "text/plain; charset=utf-8"},
    {"Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE"}};
const http::Header kRetryAfter[] = {{"Content-Type", "text/plain; charset=utf-8"},
                                    {"Retry-After", "1"}};
// Overloaded with a request body not read yet: answer at once and close rather than wait for it.
const http::Header kRetryAfterClose[] = {
    {"Content-Type", "text/plain; charset=utf-8"}, {"Retry-After", "1"}, {"Connection", "close"}};

std::uint64_t ns_since(base::TimePoint t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(base::Clock::now() - t).count());
}

// Holds one in-flight count on a backend for the duration of an attempt.
class InFlight {
 public:
  explicit InFlight(Backend* b) : b_(b) { b_->in_flight.fetch_add(1, std::memory_order_relaxed); }
  ~InFlight() { b_->in_flight.fetch_sub(1, std::memory_order_relaxed); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  Backend* b_;
};

// The request as it goes upstream, the same for every attempt: the rewritten fields (views
// into the client's head) and the client request that carries them, the body, and the
// client's disconnect Cancel.
struct Upstream {
  ForwardedFields fields;
  http::ClientRequest request;
  RequestTraits traits;

  Upstream(http::Request& req, const UpstreamTarget& target, http::BodyFraming framing,
           RequestBody& body, std::string_view request_id) {
    const http::RequestHead& head = req.head();
    const http::Header* host_field = head.headers.find("Host");
    const std::string_view host = !target.authority.empty() ? target.authority
                                  : host_field != nullptr   ? host_field->value
                                                            : std::string_view();
    forward_request_fields(head.headers, req.remote_ip(), host, fields);
    set_request_id(fields, request_id);
    request.method = head.method;
    request.method_token = head.method_token;
    request.target = target.authority.empty() ? head.target : std::string_view(target.origin);
    request.host = host;
    request.headers = fields.fields;
    traits.idempotent = http::is_idempotent(head.method);
    traits.has_body = framing.kind != http::Framing::kNone;
    if (traits.has_body) {
      request.body = &body;
      // A chunked body read whole goes upstream with its length (and is written inline).
      if (framing.kind == http::Framing::kContentLength) {
        request.content_length = framing.length;
      } else if (body.complete()) {
        request.content_length = body.buffered();
      }
    }
    request.cancel = &req.disconnect();
  }
  Upstream(const Upstream&) = delete;  // request.headers points into fields
  Upstream& operator=(const Upstream&) = delete;
};

}  // namespace

Proxy::Proxy(Registry& registry, Picker& picker, Admission& admission, BodyOptions body)
    : registry_(registry), picker_(picker), admission_(admission), body_options_(body) {}

void Proxy::reply_client_error(http::ResponseWriter& w, const http::Error& e) {
  stats_.client_errors.add();
  if (e.status == 413) stats_.too_large.add();
  if (e.status == 408) stats_.slow_bodies.add();
  (void)w.reply(e.status != 0 ? e.status : 400, "spindle-lb: " + e.message() + "\n", kTextPlain);
}

void Proxy::serve(http::Request& req, http::ResponseWriter& w) {
  ProxyOutcome outcome;
  serve(req, w, outcome);
}

void Proxy::serve(http::Request& req, http::ResponseWriter& w, ProxyOutcome& outcome) {
  serve_request(req, w, outcome);
  if (!w.header_written()) return;  // the client left before any answer
  responses_.count(req.method(), w.status());
  // outcome.snapshot keeps the backend alive.
  if (outcome.proxied) outcome.backend->responses.count(w.status());
}

void Proxy::serve_request(http::Request& req, http::ResponseWriter& w, ProxyOutcome& outcome) {
  stats_.requests.add();
  const http::RequestHead& head = req.head();
  const std::string_view client_id = client_request_id(head.headers);
  outcome.request_id = client_id.empty() ? new_request_id() : std::string(client_id);
  if (head.method == http::Method::kConnect) {
    (void)w.reply(405, "spindle-lb: CONNECT is not supported\n", kNoConnect);
    return;
  }
  UpstreamTarget target;
  if (auto bad = split_target(head.target, target)) {
    (void)w.reply(400, "spindle-lb: " + *bad + "\n", kTextPlain);
    return;
  }
  if (head.has_transfer_encoding && has_other_transfer_coding(head.headers)) {
    (void)w.reply(501, "spindle-lb: transfer codings other than chunked are not supported\n",
                  kTextPlain);
    return;
  }
  const http::BodyFraming framing = http::request_framing(head);
  const std::uint64_t max_body = body_options_.max_size;
  if (max_body != 0 && framing.kind == http::Framing::kContentLength && framing.length > max_body) {
    stats_.too_large.add();
    (void)w.reply(413,
                  "spindle-lb: request body of " + std::to_string(framing.length) +
                      " bytes is over the limit of " + std::to_string(max_body) +
                      " bytes (--max-body-size)\n",
                  kTextPlain);
    return;
  }
  // A body of known length is read first, up to the buffer size (request_body.h): a client
  // sending a small one slowly holds neither a slot nor a backend. A chunked body may be a
  // stream whose pieces the backend must see as they come (an interactive echo): it streams
  // from its first byte, bounded in time like every body.
  RequestBody body(req.body(), body_options_);
  if (framing.kind == http::Framing::kContentLength) {
    if (auto r = body.prefetch(); !r) {
      reply_client_error(w, r.error());
      return;
    }
  }
  if (!admission_.admit()) {
    stats_.overloaded.add();
    const bool unread_body = framing.kind != http::Framing::kNone && !req.body().done();
    (void)w.reply(503, "spindle-lb: overloaded, retry later\n",
                  unread_body ? std::span<const http::Header>(kRetryAfterClose)
                              : std::span<const http::Header>(kRetryAfter));
    return;
  }
  std::shared_ptr<const Snapshot> snap = registry_.snapshot();
  if (snap->backends.empty()) {
    stats_.no_backend.add();
    (void)w.reply(503,
                  "spindle-lb: no healthy backend (none registered, or all expired or "
                  "deregistered)\n",
                  kRetryAfter);
  } else {
    forward(req, w, *snap, target, framing, body, outcome);
  }
  admission_.release();
  if (outcome.backend != nullptr) outcome.snapshot = std::move(snap);
}

void Proxy::forward(http::Request& req, http::ResponseWriter& w, const Snapshot& snap,
                    const UpstreamTarget& target, http::BodyFraming framing, RequestBody& body,
                    ProxyOutcome& outcome) {
  Upstream up(req, target, framing, body, outcome.request_id);
  Attempts attempts;
  const Backend* avoid = nullptr;
  for (;;) {
    Backend* b = picker_.pick(snap, avoid);
    InFlight counted(b);
    const runtime::LabelScope labelled(b->labels);  // profiles: this attempt's samples
    http::Result<http::ClientResponse> resp = send(*b, up.request, outcome);
    if (resp) {
      stream_response(req, w, *resp, *b, outcome);
      return;
    }
    ++attempts.failed;
    up.traits.body_resendable = body.resendable();
    const NextStep next = next_step(resp.error(), up.traits, attempts);
    charge(next.blame, *b);
    switch (next.step) {
      case Step::kFailover:
        stats_.failovers.add();
        ++outcome.failovers;
        (void)body.rewind();
        break;
      case Step::kRetry:
        stats_.retries.add();
        ++outcome.retries;
        attempts.retried = true;
        break;
      case Step::kAnswer:
        answer_failure(w, next, resp.error(), *b);
        return;
      case Step::kDrop:
        stats_.canceled.add();
        return;
    }
    avoid = b;
  }
}

http::Result<http::ClientResponse> Proxy::send(Backend& b, const http::ClientRequest& creq,
                                               ProxyOutcome& outcome) {
  const base::TimePoint start = base::Clock::now();
  http::Result<http::ClientResponse> resp = http::Client::send(*b.pool, creq);
  const std::uint64_t latency = ns_since(start);
  outcome.backend = &b;
  outcome.upstream_ns = static_cast<std::int64_t>(latency);
  if (resp) {
    Registry::record_success(b, latency);
    b.upstream_seconds.observe_ns(static_cast<std::int64_t>(latency));
    admission_.record_latency(latency);
    b.requests.fetch_add(1, std::memory_order_relaxed);
  }
  return resp;
}

void Proxy::charge(Blame blame, Backend& b) {
  if (blame == Blame::kBackend) registry_.record_failure(b, base::Clock::now());
}

void Proxy::answer_failure(http::ResponseWriter& w, const NextStep& next, const http::Error& e,
                           const Backend& b) {
  if (next.blame == Blame::kClient) {
    reply_client_error(w, e);
    return;
  }
  const bool timeout = next.status == 504;
  (timeout ? stats_.gateway_timeout : stats_.bad_gateway).add();
  (void)w.reply(next.status,
                "spindle-lb: backend " + b.url.url +
                    (e.phase == http::Phase::kResponseBody ? " sent an invalid response body: "
                     : timeout                             ? " did not answer in time: "
                                                           : " failed: ") +
                    e.message() + "\n",
                kTextPlain);
}

void Proxy::stream_response(http::Request& req, http::ResponseWriter& w, http::ClientResponse& resp,
                            Backend& b, ProxyOutcome& outcome) {
  const http::ResponseHead& head = resp.head();
  const http::BodyFraming framing = http::response_framing(req.method(), head);
  ForwardedFields fields;
  std::optional<std::uint64_t> length;
  if (head.content_length && head.status != 204 && head.status != 304) {
    length = head.content_length;
  }
  if (head.has_transfer_encoding && has_other_transfer_coding(head.headers)) {
    stats_.bad_gateway.add();  // a protocol failure, as below
    registry_.record_failure(b, base::Clock::now());
    (void)w.reply(502, "spindle-lb: the backend used a transfer coding other than chunked\n",
                  kTextPlain);
    return;
  }
  forward_response_fields(head.headers, length, fields);
  if (head.status == 101 || !w.write_header(head.status, fields.fields)) {
    // 101 cannot happen (Upgrade is never forwarded); a bad field from the backend is its bug.
    stats_.bad_gateway.add();
    registry_.record_failure(b, base::Clock::now());
    if (!w.header_written()) (void)w.reply(502, "spindle-lb: invalid response\n", kTextPlain);
    return;
  }
  outcome.proxied = true;
  const bool streamed = framing.kind != http::Framing::kContentLength;
  for (;;) {
    auto piece = resp.body().next();
    if (!piece) {
      if (end_failed_response(w, resp, b, piece.error())) outcome.proxied = false;
      return;
    }
    if (piece->empty()) break;
    // The client is gone: the upstream connection, its body not read to the end, is closed
    // with the response, never pooled.
    if (!w.write(*piece)) {
      stats_.canceled.add();
      return;
    }
    // Unknown-length bodies may be streams (events, long polls): send each piece on.
    if (streamed && !w.flush()) return;
  }
}

bool Proxy::end_failed_response(http::ResponseWriter& w, http::ClientResponse& resp, Backend& b,
                                const http::Error& read_error) {
  // What broke the read, typed: the client leaving, the request body broken on the client's
  // side (its writer then stops the exchange), or the backend. Never sent again.
  const http::Error cause = resp.body_failure(read_error);
  const NextStep next = next_step(cause, RequestTraits{}, Attempts{});
  charge(next.blame, b);
  if (next.step == Step::kDrop) {  // nobody to answer, nobody at fault
    w.abort();
    stats_.canceled.add();
    return false;
  }
  if (w.retract()) {  // nothing of the response went out yet: answer it
    answer_failure(w, next, cause, b);
    return true;
  }
  w.abort();
  (next.blame == Blame::kClient ? stats_.client_errors : stats_.aborted).add();
  return false;
}

ProxyStats Proxy::stats() const { return base::snapshot(stats_); }

}  // namespace spindle::lb
