// ReadBuffer: the bytes read from one connection and not yet consumed, with a pinned prefix
// that never moves, so a parsed head's views stay valid while its body streams through the
// space after it. Owned by the connection's goroutine (server) or by the pooled connection
// (client); not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include "net/conn.h"

namespace spindle::http {

// Layout: [0, pin_) pinned (a head in use) | [begin_, end_) data | [end_, capacity) free.
// begin_ >= pin_. prepare() moves the data down to pin_, so views into [0, pin_) survive every
// call until unpin(). While something is pinned the buffer grows only when it is full (a
// partial chunk line or trailer section after the head): the data moves to a new allocation
// and the old one, holding the pinned bytes, is kept until unpin(). Without that a peer could
// fill the space behind a pinned head with one line the decoder must see whole.
class ReadBuffer {
 public:
  explicit ReadBuffer(std::size_t initial_capacity = 4096)
      : initial_(initial_capacity < 16 ? 16 : initial_capacity) {}

  std::string_view data() const { return {buf_.get() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::size_t capacity() const { return capacity_; }

  // Drops n bytes from the front of the data. They stay in place (pin() may keep them).
  void consume(std::size_t n);
  // Keeps every byte consumed so far in place (the head whose views are in use).
  void pin() { pin_ = begin_; }
  void unpin();

  // Free space after the data, compacting first; grows towards `max_capacity` if fewer than
  // `want` bytes are free and nothing is pinned, or if none is free. May return less than
  // `want`; empty only when the data alone fills max_capacity.
  std::span<char> prepare(std::size_t want, std::size_t max_capacity);
  void commit(std::size_t n) { end_ += n; }

  // One read from c into the free space (prepare(want, max_capacity)): bytes read, 0 at end of
  // stream. Callers pass a max_capacity above the most data they leave unconsumed (the head
  // and body limits bound it), so the space is never empty: checked.
  net::Result<std::size_t> fill(net::Conn& c, std::size_t want, std::size_t max_capacity);
  // Appends bytes read elsewhere (a disconnect watcher's side buffer).
  void append(std::string_view bytes);

 private:
  void reallocate(std::size_t capacity);

  std::unique_ptr<char[]> buf_;
  std::unique_ptr<char[]> retired_;  // the allocation holding the pinned bytes, after a growth
  std::size_t initial_;
  std::size_t capacity_ = 0;
  std::size_t pin_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace spindle::http
