#include "lb/request_body.h"

#include <algorithm>
#include <span>

namespace spindle::lb {

namespace {

std::string seconds_text(base::Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

http::Error RequestBody::too_slow() const {
  return http::Error{http::ErrorCode::kTimeout, http::Side::kClient, false, 408,
                     "request body too slow: " + std::to_string(received_) + " bytes in " +
                         seconds_text(waited_) + " (--body-timeout " + seconds_text(o_.timeout) +
                         ", plus 1 s per --body-min-rate " + std::to_string(o_.min_rate) +
                         " bytes)"};
}

template <typename F>
auto RequestBody::timed(F read) {
  base::Duration allowance = o_.timeout;
  if (o_.min_rate != 0) {
    allowance += std::chrono::duration_cast<base::Duration>(std::chrono::duration<double>(
        static_cast<double>(received_) / static_cast<double>(o_.min_rate)));
  }
  const base::TimePoint start = base::Clock::now();
  in_.set_deadline(waited_ < allowance ? start + (allowance - waited_) : start);
  auto r = read();
  waited_ += base::Clock::now() - start;
  if (!r && r.error().code == http::ErrorCode::kTimeout && r.error().side == http::Side::kClient) {
    return decltype(r)(too_slow());
  }
  return r;
}

http::Result<void> RequestBody::count(std::size_t n) {
  received_ += n;
  if (o_.max_size == 0 || received_ <= o_.max_size) return {};
  return http::Error{
      http::ErrorCode::kBadArgument, http::Side::kClient, false, 413,
      "request body over the limit of " + std::to_string(o_.max_size) + " bytes (--max-body-size)"};
}

http::Result<void> RequestBody::prefetch() {
  constexpr std::size_t kStep = 16 * 1024;
  while (buffer_.size() < o_.buffer) {
    const std::size_t old = buffer_.size();
    const std::size_t room =
        static_cast<std::size_t>(std::min<std::uint64_t>(o_.buffer - old, kStep));
    buffer_.resize(old + room);
    auto n = timed([&] { return in_.read(std::span<char>(buffer_.data() + old, room)); });
    buffer_.resize(old + (n ? *n : 0));
    if (!n) return n.error();
    if (auto c = count(*n); !c) return c.error();
    if (*n == 0) {
      complete_ = true;
      break;
    }
  }
  return {};
}

http::Result<std::string_view> RequestBody::next() {
  if (!buffer_given_) {
    buffer_given_ = true;
    if (!buffer_.empty()) return std::string_view(buffer_);
  }
  if (complete_) return std::string_view();
  auto piece = timed([&] { return in_.next(); });
  if (!piece) return piece;
  if (auto c = count(piece->size()); !c) return c.error();
  if (piece->empty()) {
    complete_ = !streamed_;  // the whole body was the buffer: it can be sent again
  } else {
    streamed_ = true;
  }
  return piece;
}

bool RequestBody::rewind() {
  if (!resendable()) return false;
  buffer_given_ = false;
  return true;
}

}  // namespace spindle::lb
