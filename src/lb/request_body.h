// RequestBody: a client's request body as the proxy sends it upstream. The proxy has a body
// of known length read first up to the buffer size (prefetch): a small one whole before a
// backend is picked, so a client that sends it slowly holds neither an in-flight slot nor an
// upstream connection (nginx buffers bodies by default); of a larger one that much, and the
// rest streams from the client's connection. Reading is bounded in time — a timeout plus one second
// per min_rate bytes received, counting only the time spent waiting for the client — and in size.
// Every failure is the client's (http::Side::kClient): 408 too slow, 413 too large, 400 malformed.
// Owned by the request's handler; read by it or by the upstream body writer. Design: docs/lb.md,
// "Request bodies".
#pragma once

#include <cstdint>
#include <string>

#include "http/body_reader.h"
#include "runtime/time.h"

namespace spindle::lb {

struct BodyOptions {
  std::uint64_t buffer = 64 * 1024;  // read before a backend is picked (--request-buffer)
  base::Duration timeout = std::chrono::seconds(20);  // --body-timeout
  std::uint64_t min_rate = 1024;  // bytes per second that extend it (--body-min-rate); 0: none
  std::uint64_t max_size = 0;     // --max-body-size; 0: unlimited
};

class RequestBody final : public http::BodySource {
 public:
  // `in` is the request's body; `options` must outlive this.
  RequestBody(http::BodyReader& in, const BodyOptions& options) : in_(in), o_(options) {}

  // Reads the body into memory up to the buffer size (all of a smaller one). Parks.
  http::Result<void> prefetch();
  // Whether the whole body is in memory.
  bool complete() const { return complete_; }
  std::uint64_t buffered() const { return buffer_.size(); }

  // The buffered part first, then the rest from the connection; an empty view at the end.
  http::Result<std::string_view> next() override;
  // Starts again from the first byte, possible while nothing past the buffer was read.
  bool rewind() override;
  // Whether rewind() would succeed.
  bool resendable() const { return !streamed_; }

 private:
  // Sets the reader's deadline from what is left of the time allowance, runs read(), and
  // charges its wait to the allowance; a timeout becomes a 408.
  template <typename F>
  auto timed(F read);
  http::Error too_slow() const;
  // Counts n more bytes received; the 413 past max_size.
  http::Result<void> count(std::size_t n);

  http::BodyReader& in_;
  const BodyOptions& o_;
  std::string buffer_;
  bool buffer_given_ = false;  // next() returned the buffer already
  bool complete_ = false;
  bool streamed_ = false;  // next() returned bytes past the buffer
  std::uint64_t received_ = 0;
  base::Duration waited_{0};
};

}  // namespace spindle::lb
