#include "http/body_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spindle::http {
namespace {

struct Decoded {
  DecodeStatus status;
  std::string body;
  std::string trailers;
  std::size_t end = 0;  // input offset where the message ended (kDone)
  ParseError error;
};

// Feeds `input` in pieces of `piece` bytes (0: all at once) like a connection would, keeping
// unconsumed bytes and dropping consumed ones.
Decoded decode_all(BodyFraming framing, const std::string& input, std::size_t piece = 0,
                   Side side = Side::kClient, const Limits& limits = {}) {
  BodyDecoder d(framing, side, limits);
  Decoded out;
  std::string buffer;
  std::size_t delivered = 0, consumed_total = 0;
  while (true) {
    const DecodeResult r = d.decode(buffer);
    out.body.append(r.data);
    out.trailers.append(r.trailers);
    EXPECT_LE(r.consumed, buffer.size());
    buffer.erase(0, r.consumed);
    consumed_total += r.consumed;
    if (r.status == DecodeStatus::kNeedMore) {
      if (delivered == input.size()) {
        out.status = d.finish_at_eof().status;
        out.error = d.error();
        out.end = consumed_total;
        return out;
      }
      const std::size_t n =
          piece == 0 ? input.size() - delivered : std::min(piece, input.size() - delivered);
      buffer.append(input, delivered, n);
      delivered += n;
      continue;
    }
    if (r.status == DecodeStatus::kData) continue;
    out.status = r.status;
    out.error = d.error();
    out.end = consumed_total;
    return out;
  }
}

const BodyFraming kChunked{Framing::kChunked, 0};

TEST(BodyDecoder, ContentLengthEndsExactly) {
  for (std::size_t piece : {0, 1, 3}) {
    const Decoded d = decode_all({Framing::kContentLength, 5}, "helloGET /", piece);
    EXPECT_EQ(d.status, DecodeStatus::kDone);
    EXPECT_EQ(d.body, "hello");
    EXPECT_EQ(d.end, 5u);
  }
}

TEST(BodyDecoder, NoBodyIsDoneAtOnce) {
  const Decoded d = decode_all({Framing::kNone, 0}, "GET /");
  EXPECT_EQ(d.status, DecodeStatus::kDone);
  EXPECT_EQ(d.end, 0u);
}

TEST(BodyDecoder, ChunkedWithExtensionsAndTrailers) {
  const std::string in =
      "5;name=value\r\nhello\r\n6 ; a ; b=\"q\\\"x\"\r\n world\r\nA\r\n0123456789\r\n"
      "0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\nNEXT";
  for (std::size_t piece : {0, 1, 2, 7}) {
    const Decoded d = decode_all(kChunked, in, piece);
    ASSERT_EQ(d.status, DecodeStatus::kDone) << piece << " " << d.error.reason;
    EXPECT_EQ(d.body, "hello world0123456789");
    EXPECT_EQ(d.trailers, "X-Sum: 1\r\nX-Other: 2\r\n");
    EXPECT_EQ(d.end, in.size() - 4);
  }
}

TEST(BodyDecoder, ChunkDataIsAViewIntoTheInput) {
  BodyDecoder d(kChunked, Side::kClient);
  const std::string in = "3\r\nabc\r\n0\r\n\r\n";
  const DecodeResult r = d.decode(in);
  ASSERT_EQ(r.status, DecodeStatus::kData);
  EXPECT_EQ(r.data.data(), in.data() + 3);
  EXPECT_EQ(r.consumed, 6u);
}

struct ChunkRejection {
  const char* rule;
  std::string input;
  int status;
  const char* reason;
};

TEST(BodyDecoder, RejectsMalformedChunking) {
  const std::vector<ChunkRejection> cases = {
      {"no size", "\r\n", 400, "invalid chunk size"},
      {"negative", "-1\r\n", 400, "invalid chunk size"},
      {"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"},
      {"17 digits", "00000000000000001\r\nx\r\n0\r\n\r\n", 400, "chunk size too long"},
      {"space after size", "5 \r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"},
      {"bad extension", "5;=x\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk extension"},
      {"unterminated quote", "5;a=\"x\r\nhello\r\n0\r\n\r\n", 400,
       "unterminated quoted string in chunk extension"},
      {"bare LF in size line", "5\nhello\r\n0\r\n\r\n", 400, "bare LF in chunk line"},
      {"data longer than size", "3\r\nabcd\r\n0\r\n\r\n", 400, "missing CRLF after chunk data"},
      {"LF only after data", "3\r\nabc\n0\r\n\r\n", 400, "missing CRLF after chunk data"},
      {"bad trailer", "0\r\nX : y\r\n\r\n", 400, "whitespace before colon"},
      {"obs-fold trailer", "0\r\nX: y\r\n z\r\n\r\n", 400,
       "obs-fold or whitespace before field name"},
      {"bare LF in trailers", "0\r\nX: y\n\r\n", 400, "bare LF in trailer section"},
      {"Content-Length trailer", "0\r\nContent-Length: 5\r\n\r\n", 400,
       "framing field in trailer section"},
      {"Transfer-Encoding trailer", "0\r\nX: y\r\ntransfer-encoding: chunked\r\n\r\n", 400,
       "framing field in trailer section"},
      {"truncated", "5\r\nhel", 400, "connection closed before end of body"},
  };
  for (const ChunkRejection& c : cases) {
    for (std::size_t piece : {0, 1}) {
      const Decoded d = decode_all(kChunked, c.input, piece);
      EXPECT_EQ(d.status, DecodeStatus::kError) << c.rule;
      EXPECT_EQ(d.error.status, c.status) << c.rule;
      EXPECT_STREQ(d.error.reason, c.reason) << c.rule << " piece " << piece;
    }
  }
}

TEST(BodyDecoder, ChunkLineAndTrailerLimits) {
  Limits limits;
  limits.max_chunk_line = 16;
  limits.max_trailer_section = 32;
  EXPECT_STREQ(decode_all(kChunked, "5;" + std::string(20, 'a') + "\r\n", 0, Side::kClient, limits)
                   .error.reason,
               "chunk line too long");
  EXPECT_STREQ(
      decode_all(kChunked, "5;" + std::string(20, 'a'), 1, Side::kClient, limits).error.reason,
      "chunk line too long");
  const Decoded t = decode_all(kChunked, "0\r\nX: " + std::string(40, 'y') + "\r\n\r\n", 0,
                               Side::kClient, limits);
  EXPECT_EQ(t.error.status, 431);
  EXPECT_STREQ(t.error.reason, "trailer section too long");
}

TEST(BodyDecoder, LargestChunkSizeParsesWithoutOverflow) {
  BodyDecoder d(kChunked, Side::kClient);
  const DecodeResult r = d.decode("ffffffffffffffff\r\nab");
  EXPECT_EQ(r.status, DecodeStatus::kData);
  EXPECT_EQ(r.data, "ab");
}

TEST(BodyDecoder, UpstreamErrorsAre502) {
  const Decoded d = decode_all(kChunked, "zz\r\n", 0, Side::kUpstream);
  EXPECT_EQ(d.error.status, 502);
  EXPECT_EQ(d.error.side, Side::kUpstream);
}

TEST(BodyDecoder, UntilCloseEndsAtEof) {
  const Decoded d = decode_all({Framing::kUntilClose, 0}, "all of it", 2);
  EXPECT_EQ(d.status, DecodeStatus::kDone);
  EXPECT_EQ(d.body, "all of it");
}

TEST(BodyDecoder, ContentLengthTruncatedByCloseIsAnError) {
  const Decoded d = decode_all({Framing::kContentLength, 10}, "short", 0, Side::kUpstream);
  EXPECT_EQ(d.status, DecodeStatus::kError);
  EXPECT_EQ(d.error.status, 502);
  EXPECT_STREQ(d.error.reason, "connection closed before end of body");
}

}  // namespace
}  // namespace spindle::http
