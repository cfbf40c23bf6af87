// ReadBuffer: a pinned prefix never moves, and the space after it grows (into a new allocation,
// the pinned one kept until unpin) once it is full, so a partial line a peer sends after a
// pinned head always has somewhere to go.
#include "http/read_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace spindle::http {
namespace {

void put(ReadBuffer& b, std::string_view bytes, std::size_t max_capacity) {
  while (!bytes.empty()) {
    std::span<char> space = b.prepare(bytes.size(), max_capacity);
    ASSERT_FALSE(space.empty()) << "no room for " << bytes.size() << " bytes";
    const std::size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    b.commit(n);
    bytes.remove_prefix(n);
  }
}

TEST(ReadBufferTest, GrowsPastAFullBufferWhilePinnedAndKeepsThePinnedBytesInPlace) {
  ReadBuffer b(64);
  put(b, "HEAD:0123456789", 64);
  b.consume(5);
  const std::string_view head(b.data().data() - 5, 5);  // the consumed, pinned prefix
  b.pin();
  const std::string partial(200, 'x');  // a chunk line longer than the whole buffer
  put(b, partial, 4096);
  EXPECT_EQ(head, "HEAD:");  // still readable where it was
  EXPECT_EQ(b.data(), "0123456789" + partial);
  EXPECT_GE(b.capacity(), b.size());
  b.unpin();
  b.consume(b.size());
  EXPECT_TRUE(b.empty());
  put(b, "next", 4096);
  EXPECT_EQ(b.data(), "next");
}

// A head that was all the data (its body not arrived yet) is consumed and then pinned: the
// body must go after it, not over it.
TEST(ReadBufferTest, PinningAfterConsumingEverythingKeepsTheBytes) {
  ReadBuffer b(64);
  put(b, "HEAD:", 64);
  const std::string_view head = b.data();
  b.consume(5);
  b.pin();
  put(b, "body bytes", 4096);
  EXPECT_EQ(head, "HEAD:");
  put(b, std::string(100, 'x'), 4096);  // and when the space behind it fills up
  EXPECT_EQ(head, "HEAD:");
  EXPECT_EQ(b.data(), "body bytes" + std::string(100, 'x'));
}

TEST(ReadBufferTest, DoesNotGrowWhilePinnedAsLongAsThereIsRoom) {
  ReadBuffer b(64);
  put(b, "HEAD:", 64);
  b.consume(5);
  b.pin();
  put(b, std::string(40, 'y'), 4096);
  EXPECT_EQ(b.capacity(), 64u);  // a body streams through what is left after the head
  b.consume(40);
  put(b, std::string(50, 'z'), 4096);  // compacted down to the pin, no growth
  EXPECT_EQ(b.capacity(), 64u);
}

}  // namespace
}  // namespace spindle::http
