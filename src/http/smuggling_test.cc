// End-to-end over a byte stream (head parser + body decoder, as a connection reads): the classic
// request smuggling vectors are rejected before anything is forwarded, and pipelined messages
// split at exact boundaries however the bytes arrive.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/test_vectors.h"
#include "http/transcript.h"

namespace spindle::http::testing {
namespace {

StreamOptions requests(std::size_t piece = 0) {
  StreamOptions o;
  o.piece = piece;
  return o;
}

TEST(Smuggling, EveryVectorIsRejectedBeforeAnyMessageGoesFurther) {
  for (const Rejection& v : kSmuggling) {
    for (std::size_t piece : {0, 1, 5}) {
      const Transcript t = read_stream(v.input, requests(piece));
      EXPECT_EQ(t.end, StreamEnd::kError) << v.name << "\n" << t.to_string();
      EXPECT_TRUE(t.messages.empty()) << v.name;
      EXPECT_EQ(t.error.status, v.status) << v.name;
      EXPECT_STREQ(t.error.reason, v.reason) << v.name;
    }
  }
}

TEST(Pipelining, MessageBoundariesAreExact) {
  const std::string a = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string b = kPost + "Content-Length: 3\r\n\r\nabc";
  const std::string c = kPost + "Transfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\nT: 1\r\n\r\n";
  const std::string d = "\r\nGET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  const std::string all = a + b + c + d;
  const std::string whole = read_stream(all, requests()).to_string();
  for (std::size_t piece : {1, 2, 3, 10}) {
    EXPECT_EQ(read_stream(all, requests(piece)).to_string(), whole) << piece;
  }
  const Transcript t = read_stream(all, requests());
  ASSERT_EQ(t.end, StreamEnd::kClean) << t.to_string();
  ASSERT_EQ(t.messages.size(), 4u);
  EXPECT_EQ(t.messages[0].end, a.size());
  EXPECT_EQ(t.messages[1].end, a.size() + b.size());
  EXPECT_EQ(t.messages[1].body, "abc");
  EXPECT_EQ(t.messages[2].end, a.size() + b.size() + c.size());
  EXPECT_EQ(t.messages[2].body, "xy");
  EXPECT_EQ(t.messages[2].trailers, "T: 1\r\n");
  EXPECT_EQ(t.messages[3].end, all.size());
}

TEST(Pipelining, AnErrorInALaterRequestKeepsTheEarlierOnes) {
  const std::string ok = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
  const Transcript t = read_stream(ok + "GET /2 HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", requests());
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.end, StreamEnd::kError);
  EXPECT_EQ(t.error_at, ok.size());
}

TEST(Responses, NoBodyForHeadAnd1xx204304ThenTheNextResponse) {
  StreamOptions o;
  o.requests = false;
  const std::string stream =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const Transcript t = read_stream(stream, o);
  ASSERT_EQ(t.end, StreamEnd::kClean) << t.to_string();
  ASSERT_EQ(t.messages.size(), 4u);
  EXPECT_EQ(t.messages[3].body, "ok");

  o.request_method = Method::kHead;
  const Transcript h = read_stream("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", o);
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0].body, "");
}

TEST(Responses, WithoutLengthTheBodyRunsUntilClose) {
  StreamOptions o;
  o.requests = false;
  o.piece = 3;
  const Transcript t = read_stream("HTTP/1.0 200 OK\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", o);
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].body, "HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(t.end, StreamEnd::kClean);
}

}  // namespace
}  // namespace spindle::http::testing
