#include "http/read_buffer.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"

namespace spindle::http {

void ReadBuffer::consume(std::size_t n) {
  SPINDLE_CHECK(n <= size(), "ReadBuffer::consume past the data");
  begin_ += n;
  // The offsets stay even when nothing is left: a head consumed whole is pinned next (pin()
  // keeps [0, begin_)), and prepare() compacts whatever is not pinned anyway.
}

void ReadBuffer::unpin() {
  pin_ = 0;
  retired_.reset();
  if (begin_ == end_) begin_ = end_ = 0;
}

void ReadBuffer::reallocate(std::size_t capacity) {
  auto fresh = std::make_unique<char[]>(capacity);
  if (size() > 0) std::memcpy(fresh.get(), buf_.get() + begin_, size());
  end_ = size();
  begin_ = 0;
  if (pin_ > 0) {
    // The pinned bytes stay where they are, in the old allocation; nothing of the new one is
    // pinned. (A second growth before unpin() finds pin_ == 0 and frees the middle one.)
    retired_ = std::move(buf_);
    pin_ = 0;
  }
  buf_ = std::move(fresh);
  capacity_ = capacity;
}

std::span<char> ReadBuffer::prepare(std::size_t want, std::size_t max_capacity) {
  if (capacity_ == 0) reallocate(std::max(initial_, std::min(want, max_capacity)));
  if (capacity_ - end_ >= want) return {buf_.get() + end_, capacity_ - end_};
  if (begin_ > pin_) {  // compact down to the pinned prefix
    std::memmove(buf_.get() + pin_, buf_.get() + begin_, size());
    end_ = pin_ + size();
    begin_ = pin_;
  }
  const bool full = end_ == capacity_;
  if (capacity_ - end_ < want && (pin_ == 0 || full) && capacity_ < max_capacity) {
    reallocate(std::min(max_capacity, std::max(capacity_ * 2, size() + want)));
  }
  return {buf_.get() + end_, capacity_ - end_};
}

net::Result<std::size_t> ReadBuffer::fill(net::Conn& c, std::size_t want,
                                          std::size_t max_capacity) {
  std::span<char> space = prepare(want, max_capacity);
  SPINDLE_CHECK(!space.empty(), "ReadBuffer::fill into a full buffer");
  auto n = c.read(space);
  if (n) commit(*n);
  return n;
}

void ReadBuffer::append(std::string_view bytes) {
  std::span<char> space = prepare(bytes.size(), std::max(capacity_, size() + bytes.size()) * 2);
  SPINDLE_CHECK(space.size() >= bytes.size(), "ReadBuffer::append: no room");
  std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

}  // namespace spindle::http
