// Streaming bodies: BodySource is anything a message body can be read from piece by piece
// (a request body the server received, a string, the proxy's other side); BodyReader is the
// source that decodes one message body off a connection's ReadBuffer, zero-copy: each piece is
// a view into the buffer, valid until the next call. Memory stays bounded by the buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/body_decoder.h"
#include "http/error.h"
#include "http/read_buffer.h"
#include "net/conn.h"

namespace spindle::http {

class BodySource {
 public:
  virtual ~BodySource() = default;
  // The next piece of the body; an empty view at the end. The view is valid until the next
  // call. Parks while the bytes are on their way.
  virtual Result<std::string_view> next() = 0;
  // Starts again from the first byte, if the source can (a request retried on a new
  // connection); false when it cannot (a stream already partly consumed).
  virtual bool rewind() { return false; }
};

// A body held in memory by the caller (must outlive the source); rewindable.
class StringBody final : public BodySource {
 public:
  explicit StringBody(std::string_view body) : body_(body) {}
  Result<std::string_view> next() override {
    std::string_view piece = sent_ ? std::string_view() : body_;
    sent_ = true;
    return piece;
  }
  bool rewind() override {
    sent_ = false;
    return true;
  }

 private:
  std::string_view body_;
  bool sent_ = false;
};

// Reads one message body from a connection. Owned by the connection's goroutine.
class BodyReader final : public BodySource {
 public:
  // Called once before the first read from the connection (the server sends 100 Continue).
  using BeforeFirstRead = void (*)(void* ctx);
  // Bytes of free space a read asks for, and how far the buffer may grow past a pinned head.
  static constexpr std::size_t kReadChunk = 16 * 1024;
  static constexpr std::size_t kMaxBodyBuffer = 64 * 1024;

  BodyReader() = default;
  // Starts decoding a body framed by `framing` from `in` (whose data begins right after the
  // head) read from `conn`. `read_timeout`: the longest wait for the next bytes.
  void start(net::Conn* conn, ReadBuffer* in, BodyFraming framing, Side side, const Limits& limits,
             base::Duration read_timeout);
  void set_before_first_read(BeforeFirstRead fn, void* ctx) {
    before_first_read_ = fn;
    before_ctx_ = ctx;
  }
  // The latest time the next reads may wait until, on top of the inactivity timeout (a bound
  // on the whole body, kept by the reader's caller); passing it fails the read with a
  // kTimeout error. TimePoint::max() (what start() sets): none.
  void set_deadline(base::TimePoint t) { deadline_ = t; }

  Result<std::string_view> next() override;
  // Copies up to buf.size() body bytes into buf: the count, 0 at the end.
  Result<std::size_t> read(std::span<char> buf);
  // Reads and drops the rest of the body, at most `limit` bytes: true if the body ended.
  bool discard(std::uint64_t limit);
  // Drops the body bytes already in the buffer without reading from the connection: true if
  // the body ended within them.
  bool discard_buffered();
  // A Content-Length body: the bytes not read yet; other framings: nullopt.
  std::optional<std::uint64_t> remaining_length() const {
    if (framing_.kind != Framing::kContentLength) return std::nullopt;
    return framing_.length - bytes_;
  }

  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed; }
  bool started() const { return state_ != State::kIdle; }
  // Body bytes returned so far.
  std::uint64_t bytes_read() const { return bytes_; }
  // The trailer section of a chunked body (views into the buffer), once done().
  std::string_view trailers() const { return trailers_; }

 private:
  enum class State : std::uint8_t { kIdle, kReading, kDone, kFailed };
  Result<std::string_view> fail(Error e);
  Result<void> read_more();

  net::Conn* conn_ = nullptr;
  ReadBuffer* in_ = nullptr;
  BodyDecoder decoder_{BodyFraming{}, Side::kClient};
  BodyFraming framing_;
  Side side_ = Side::kClient;
  State state_ = State::kIdle;
  std::size_t pending_ = 0;    // bytes of the last kData piece, consumed at the next call
  std::string_view leftover_;  // the part of that piece read() did not copy out yet
  std::uint64_t bytes_ = 0;
  std::string_view trailers_;
  base::Duration read_timeout_ = net::kNoTimeout;
  base::TimePoint deadline_ = base::TimePoint::max();
  BeforeFirstRead before_first_read_ = nullptr;
  void* before_ctx_ = nullptr;
};

}  // namespace spindle::http
