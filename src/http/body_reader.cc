#include "http/body_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace spindle::http {

void BodyReader::start(net::Conn* conn, ReadBuffer* in, BodyFraming framing, Side side,
                       const Limits& limits, base::Duration read_timeout) {
  conn_ = conn;
  in_ = in;
  decoder_ = BodyDecoder(framing, side, limits);
  framing_ = framing;
  side_ = side;
  state_ = framing.kind == Framing::kNone ? State::kDone : State::kReading;
  pending_ = 0;
  leftover_ = {};
  bytes_ = 0;
  trailers_ = {};
  read_timeout_ = read_timeout;
  deadline_ = base::TimePoint::max();
  before_first_read_ = nullptr;
}

Result<std::string_view> BodyReader::fail(Error e) {
  state_ = State::kFailed;
  return e;
}

Result<void> BodyReader::read_more() {
  if (before_first_read_ != nullptr) {
    before_first_read_(before_ctx_);
    before_first_read_ = nullptr;
  }
  if (read_timeout_ != net::kNoTimeout || deadline_ != base::TimePoint::max()) {
    base::TimePoint d = deadline_;
    if (read_timeout_ != net::kNoTimeout) d = std::min(d, base::Clock::now() + read_timeout_);
    (void)conn_->set_read_deadline(d);
  }
  auto n = in_->fill(*conn_, kReadChunk, in_->capacity() + kMaxBodyBuffer);
  if (!n) return Error::from_net(n.error(), side_);
  if (*n == 0) {
    DecodeResult r = decoder_.finish_at_eof();
    if (r.status == DecodeStatus::kError) return Error::from_parse(decoder_.error());
    state_ = State::kDone;
  }
  return {};
}

Result<std::string_view> BodyReader::next() {
  if (state_ == State::kIdle) return std::string_view();
  if (state_ == State::kDone) return std::exchange(leftover_, std::string_view());
  if (state_ == State::kFailed) return Error{ErrorCode::kClosed, side_, false, 0, "body failed"};
  if (!leftover_.empty()) return std::exchange(leftover_, std::string_view());
  in_->consume(pending_);
  pending_ = 0;
  for (;;) {
    DecodeResult r = decoder_.decode(in_->data());
    switch (r.status) {
      case DecodeStatus::kData:
        pending_ = r.consumed;
        bytes_ += r.data.size();
        return r.data;
      case DecodeStatus::kDone:
        trailers_ = r.trailers;  // stays valid: consume() never moves the data
        in_->consume(r.consumed);
        state_ = State::kDone;
        return std::string_view();
      case DecodeStatus::kError:
        return fail(Error::from_parse(decoder_.error()));
      case DecodeStatus::kNeedMore:
        in_->consume(r.consumed);
        if (auto m = read_more(); !m) return fail(m.error());
        if (state_ == State::kDone) return std::string_view();
        break;
    }
  }
}

Result<std::size_t> BodyReader::read(std::span<char> buf) {
  auto piece = next();
  if (!piece) return piece.error();
  std::size_t n = std::min(buf.size(), piece->size());
  if (n > 0) std::memcpy(buf.data(), piece->data(), n);  // the end is an empty, null view
  // The rest is still in the buffer: pending_ covers it.
  leftover_ = piece->substr(n);
  return n;
}

bool BodyReader::discard(std::uint64_t limit) {
  std::uint64_t dropped = 0;
  while (!done()) {
    auto piece = next();
    if (!piece) return false;
    dropped += piece->size();
    if (dropped > limit) return false;
  }
  return true;
}

bool BodyReader::discard_buffered() {
  if (state_ != State::kReading) return state_ == State::kDone;
  leftover_ = {};
  in_->consume(pending_);
  pending_ = 0;
  for (;;) {
    DecodeResult r = decoder_.decode(in_->data());
    in_->consume(r.consumed);
    switch (r.status) {
      case DecodeStatus::kData:
        bytes_ += r.data.size();
        break;
      case DecodeStatus::kDone:
        trailers_ = r.trailers;
        state_ = State::kDone;
        return true;
      case DecodeStatus::kError:
        state_ = State::kFailed;
        return false;
      case DecodeStatus::kNeedMore:
        return false;
    }
  }
}

}  // namespace spindle::http
