// Client: HTTP/1.1 requests over per-host pools of keep-alive connections (connection_pool.h),
// with streaming request and response bodies, dial and response-header timeouts, one retry of
// a replayable request whose reused connection turned out dead, errors that say in which phase
// the exchange failed (error.h), and cancellation (cancel.h: a proxy passes the Cancel of its
// client's request, which fires when that client goes away). Design: docs/http.md, "Client".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/body_reader.h"
#include "http/cancel.h"
#include "http/connection_pool.h"
#include "http/error.h"
#include "http/fields.h"
#include "http/message.h"

namespace spindle::http {

struct ClientRequest {
  Method method = Method::kGet;
  std::string_view method_token;  // for Method::kOther (and overrides the name otherwise)
  std::string_view target = "/";
  std::string_view host;            // the Host field; default: the pool's address
  std::span<const Header> headers;  // sent as given, except framing fields
  // nullptr: no body. A body of unknown length or over 64 KiB is written by a goroutine while
  // the response is read (full duplex), so it must outlive the ClientResponse.
  BodySource* body = nullptr;
  std::optional<std::uint64_t> content_length;  // with a body: length-framed, else chunked
  // Cancels the exchange when it fires (then every error is kCanceled); outlives the response.
  // Armed (Cancel::arm) on the goroutine that wrote the request's last byte, once per attempt:
  // a proxy passes its client's Request::disconnect(), which watches that client from then on.
  Cancel* cancel = nullptr;
};

// A response whose body is still on the connection. Move-only. Destroying it (or close())
// returns the connection to its pool if the body was read to its exact end and both sides
// allow keep-alive, and closes it otherwise.
class ClientResponse {
 public:
  ClientResponse(HostPool* pool, std::unique_ptr<PooledConn> conn, Cancel* cancel);
  ClientResponse(ClientResponse&&) noexcept = default;
  ClientResponse& operator=(ClientResponse&&) = delete;
  ~ClientResponse() { close(); }

  const ResponseHead& head() const { return conn_->parser.head(); }
  int status() const { return head().status; }
  const HeaderList& headers() const { return head().headers; }
  // The body, streamed; views valid until the next call.
  BodyReader& body() { return conn_->body; }
  // Whether this response came over a reused connection.
  bool reused() const { return reused_; }
  // What made a body read fail with `e`, typed: kCanceled if the exchange was cancelled; the
  // error of a request body written in the background that failed on the caller's side (its
  // source broke or was refused: the writer shuts the connection's read side down to end the
  // exchange, so the upstream is not at fault); else `e` in phase kResponseBody. Waits for the
  // body writer (as close() does), unless cancelled.
  Error body_failure(Error e);
  void close();

 private:
  HostPool* pool_;
  std::unique_ptr<PooledConn> conn_;
  Cancel* cancel_;
  bool reused_;
};

class Client {
 public:
  explicit Client(ClientOptions options = {}) : options_(std::move(options)) {}
  // Must be destroyed from a goroutine (idle connections are closed).
  ~Client();

  // The pool for "host:port" (created on first use; lives as long as the Client). A proxy
  // keeps the reference per backend so its request path takes no client-wide lock.
  HostPool& pool(std::string_view address);
  // Sends req to the host and returns once the response head has arrived (1xx skipped).
  Result<ClientResponse> send(std::string_view address, const ClientRequest& req);
  static Result<ClientResponse> send(HostPool& pool, const ClientRequest& req);
  // The stats of every pool added up. Takes the client's lock (not the pools'); from a
  // goroutine.
  PoolStats stats() const;

 private:
  ClientOptions options_;
  mutable runtime::Mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<HostPool>> pools_ GUARDED_BY(mu_);
};

// Waits for the body writer goroutine of a duplex exchange on c (if any); with `force`, makes
// its write fail first. Internal to client.cc and ClientResponse.
void join_body_writer(PooledConn& c, bool force);

// Whether req may be sent again after a failure: an idempotent method and a body that can
// be rewound (or none).
bool replayable(const ClientRequest& req);

}  // namespace spindle::http
