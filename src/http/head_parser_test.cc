#include "http/head_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/test_vectors.h"

namespace spindle::http {
namespace {

using testing::kRequestRejections;
using testing::Rejection;

ParseError request_error(const std::string& input, const Limits& limits = {}) {
  RequestParser p(limits);
  EXPECT_EQ(p.parse(input).status, ParseStatus::kError) << input;
  return p.error();
}

TEST(RequestParser, RejectsEachRuleWithPreciseStatusAndReason) {
  for (const Rejection& r : kRequestRejections) {
    const ParseError e = request_error(r.input);
    EXPECT_EQ(e.status, r.status) << r.name;
    EXPECT_STREQ(e.reason, r.reason) << r.name;
    EXPECT_EQ(e.side, Side::kClient) << r.name;
  }
}

TEST(RequestParser, RejectionsDoNotDependOnHowBytesArrive) {
  for (const Rejection& r : kRequestRejections) {
    RequestParser p;
    ParseResult last;
    for (std::size_t n = 1; n <= r.input.size(); ++n) {
      last = p.parse(std::string(r.input.substr(0, n)));
      if (last.status != ParseStatus::kNeedMore) break;
    }
    ASSERT_EQ(last.status, ParseStatus::kError) << r.name;
    EXPECT_STREQ(p.error().reason, r.reason) << r.name;
  }
}

TEST(RequestParser, ParsesABrowserRequestWithViewsIntoTheInput) {
  const std::string in =
      "GET /search?q=x HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n"
      "Accept:  text/html \r\nConnection: keep-alive, Upgrade\r\n\r\nNEXT";
  RequestParser p;
  const ParseResult r = p.parse(in);
  ASSERT_EQ(r.status, ParseStatus::kDone);
  EXPECT_EQ(r.consumed, in.size() - 4);
  const RequestHead& h = p.head();
  EXPECT_EQ(h.method, Method::kGet);
  EXPECT_EQ(h.method_token, "GET");
  EXPECT_EQ(h.target, "/search?q=x");
  EXPECT_EQ(h.version.minor, 1);
  ASSERT_EQ(h.headers.size(), 4u);
  EXPECT_EQ(h.headers[2].name, "Accept");
  EXPECT_EQ(h.headers[2].value, "text/html");  // OWS trimmed
  EXPECT_GE(h.headers[2].value.data(), in.data());
  EXPECT_LT(h.headers[2].value.data(), in.data() + in.size());
  EXPECT_EQ(h.headers.find("HOST")->value, "example.com");
  EXPECT_TRUE(h.connection_keep_alive);
  EXPECT_TRUE(h.connection_upgrade);
  EXPECT_FALSE(h.connection_close);
  EXPECT_FALSE(h.content_length.has_value());
}

TEST(RequestParser, AcceptsTheRequestTargetForms) {
  for (const char* line :
       {"OPTIONS * HTTP/1.1", "CONNECT a.example:443 HTTP/1.1", "GET http://a.example/x HTTP/1.1",
        "GET /a|b{c} HTTP/1.1", "PROPFIND /dav HTTP/1.1", "GET / HTTP/1.2"}) {
    RequestParser p;
    EXPECT_EQ(p.parse(std::string(line) + "\r\nHost: a\r\n\r\n").status, ParseStatus::kDone)
        << line << ": " << p.error().reason;
  }
}

TEST(RequestParser, AcceptsFramingThatIsUnambiguous) {
  struct Case {
    std::string fields;
    bool chunked;
    std::optional<std::uint64_t> length;
  };
  const std::vector<Case> cases = {
      {"Content-Length: 5\r\nContent-Length: 5\r\n", false, 5},
      {"Content-Length: 5, 5\r\n", false, 5},
      {"Content-Length: 007\r\n", false, 7},
      {"Transfer-Encoding: gzip, chunked\r\n", true, std::nullopt},
      {"Transfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n", true, std::nullopt},
      {"Transfer-Encoding:chunked\r\n", true, std::nullopt},
  };
  for (const Case& c : cases) {
    RequestParser p;
    ASSERT_EQ(p.parse("POST / HTTP/1.1\r\nHost: a\r\n" + c.fields + "\r\n").status,
              ParseStatus::kDone)
        << c.fields << p.error().reason;
    EXPECT_EQ(p.head().chunked, c.chunked) << c.fields;
    EXPECT_EQ(p.head().content_length, c.length) << c.fields;
  }
}

TEST(RequestParser, SkipsEmptyLinesBeforeTheRequestLine) {
  RequestParser p;
  const std::string in = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(p.parse(in).status, ParseStatus::kDone);
  EXPECT_EQ(p.parse(in).consumed, in.size());
  EXPECT_EQ(p.head().target, "/");
}

TEST(RequestParser, ExpectContinueOnlyInHttp11) {
  RequestParser p11;
  ASSERT_EQ(p11.parse("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n").status,
            ParseStatus::kDone);
  EXPECT_TRUE(expect_continue(p11.head()));
  RequestParser p10;
  ASSERT_EQ(p10.parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").status, ParseStatus::kDone);
  EXPECT_FALSE(expect_continue(p10.head()));
}

TEST(RequestParser, LimitsAnswer414And431) {
  Limits limits;
  limits.max_start_line = 64;
  limits.max_header_section = 128;
  limits.max_header_count = 3;
  const std::string long_target = "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n";
  EXPECT_EQ(request_error(long_target, limits).status, 414);
  EXPECT_EQ(request_error(long_target.substr(0, 70), limits).status, 414);  // no LF yet
  const std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(200, 'b');
  EXPECT_EQ(request_error(big, limits).status, 431);
  EXPECT_STREQ(request_error(big, limits).reason, "header section too long");
  const std::string many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  EXPECT_EQ(request_error(many, limits).status, 431);
  EXPECT_STREQ(request_error(many, limits).reason, "too many header fields");
}

TEST(RequestParser, LimitIsExactAtTheBoundary) {
  const std::string line = "GET / HTTP/1.1\r\n";  // 16 bytes
  Limits limits;
  limits.max_start_line = line.size();
  RequestParser ok(limits);
  EXPECT_EQ(ok.parse(line + "Host: a\r\n\r\n").status, ParseStatus::kDone);
  limits.max_start_line = line.size() - 1;
  EXPECT_EQ(request_error(line + "Host: a\r\n\r\n", limits).status, 414);
}

TEST(RequestParser, DefaultLimits) {
  const Limits limits;
  EXPECT_EQ(limits.max_start_line, 8u * 1024);
  EXPECT_EQ(limits.max_header_section, 64u * 1024);
  EXPECT_EQ(limits.max_header_count, 100u);
}

// Bytes one at a time, in a buffer that moves on every call: same head, and each byte is
// searched once (O(total), not quadratic).
TEST(RequestParser, ByteAtATimeIsLinearAndMatchesWholeParse) {
  std::string in = "POST /x HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(60000, 'v') +
                   "\r\nContent-Length: 3\r\n\r\nabc";
  RequestParser p;
  ParseResult r;
  std::string buffer;
  for (char c : in) {
    std::string moved = buffer + c;  // a new allocation each time
    buffer.swap(moved);
    r = p.parse(buffer);
    if (r.status != ParseStatus::kNeedMore) break;
  }
  ASSERT_EQ(r.status, ParseStatus::kDone);
  EXPECT_EQ(r.consumed, in.size() - 3);
  EXPECT_EQ(p.bytes_scanned_for_test(), r.consumed);
  EXPECT_EQ(p.head().headers.find("x-big")->value.size(), 60000u);
  EXPECT_EQ(p.head().content_length, 3u);
}

TEST(RequestParser, ErrorIsStickyAndResetStartsOver) {
  RequestParser p;
  ASSERT_EQ(p.parse("GET / HTTP/1.1\nHost: a\r\n\r\n").status, ParseStatus::kError);
  EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, ParseStatus::kError);
  p.reset();
  EXPECT_EQ(p.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, ParseStatus::kDone);
}

TEST(RequestParserDeathTest, HeadBeforeDoneIsAMisuse) {
  RequestParser p;
  p.parse("GET / HTTP/1.1\r\n");
  EXPECT_DEATH(p.head(), "head\\(\\) before parse\\(\\) returned kDone");
}

TEST(ResponseParser, ParsesStatusLineForms) {
  struct Case {
    std::string line;
    int status;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{{"HTTP/1.1 200 OK", 200, "OK"},
                                         {"HTTP/1.0 404 Not Found", 404, "Not Found"},
                                         {"HTTP/1.1 204 ", 204, ""},
                                         {"HTTP/1.1 500", 500, ""},
                                         {"HTTP/1.1 299 caf\xc3\xa9\t!", 299, "caf\xc3\xa9\t!"}}) {
    ResponseParser p;
    const std::string in = c.line + "\r\nContent-Length: 0\r\n\r\n";
    ASSERT_EQ(p.parse(in).status, ParseStatus::kDone) << c.line;
    EXPECT_EQ(p.head().status, c.status);
    EXPECT_EQ(p.head().reason, c.reason);
  }
}

TEST(ResponseParser, RejectionsAreUpstream502) {
  for (const char* in :
       {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n", "HTTP/3.0 200 OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\nX: y\r\n\r\n", "HTTP/1.1 200 O\x01K\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    ResponseParser p;
    ASSERT_EQ(p.parse(in).status, ParseStatus::kError) << in;
    EXPECT_EQ(p.error().status, 502) << in;
    EXPECT_EQ(p.error().side, Side::kUpstream) << in;
  }
}

TEST(ResponseParser, UnknownCodingWithoutChunkedIsReadUntilClose) {
  ResponseParser p;
  ASSERT_EQ(p.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: br\r\n\r\n").status, ParseStatus::kDone);
  EXPECT_EQ(response_framing(Method::kGet, p.head()).kind, Framing::kUntilClose);
}

}  // namespace
}  // namespace spindle::http
