#include "http/message.h"

#include <gtest/gtest.h>

#include "http/head_parser.h"

namespace spindle::http {
namespace {

RequestHead request(RequestParser& p, const std::string& in) {
  EXPECT_EQ(p.parse(in).status, ParseStatus::kDone) << in << p.error().reason;
  return p.head();
}

ResponseHead response(ResponseParser& p, const std::string& in) {
  EXPECT_EQ(p.parse(in).status, ParseStatus::kDone) << in << p.error().reason;
  return p.head();
}

TEST(Method, TokensAndIdempotence) {
  EXPECT_EQ(method_from_token("GET"), Method::kGet);
  EXPECT_EQ(method_from_token("get"), Method::kOther);  // methods are case-sensitive
  EXPECT_EQ(method_from_token("PATCH"), Method::kPatch);
  EXPECT_STREQ(to_string(Method::kConnect), "CONNECT");
  EXPECT_TRUE(is_idempotent(Method::kPut));
  EXPECT_TRUE(is_idempotent(Method::kDelete));
  EXPECT_FALSE(is_idempotent(Method::kPost));
  EXPECT_FALSE(is_idempotent(Method::kPatch));
  EXPECT_FALSE(is_idempotent(Method::kOther));
}

TEST(KeepAlive, Http10AndHttp11Rules) {
  struct Case {
    std::string head;
    bool keep_alive;
  };
  for (const Case& c : std::vector<Case>{
           {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
           {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
           {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
           {"GET / HTTP/1.0\r\n\r\n", false},
           {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
           {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
       }) {
    RequestParser p;
    EXPECT_EQ(keep_alive(request(p, c.head)), c.keep_alive) << c.head;
  }
}

TEST(KeepAlive, ResponsesReadUntilCloseEndTheConnection) {
  ResponseParser p1, p2, p3;
  EXPECT_TRUE(
      keep_alive(Method::kGet, response(p1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n")));
  EXPECT_FALSE(keep_alive(Method::kGet, response(p2, "HTTP/1.1 200 OK\r\n\r\n")));
  EXPECT_TRUE(keep_alive(Method::kHead, response(p3, "HTTP/1.1 200 OK\r\n\r\n")));
}

TEST(Framing, Requests) {
  RequestParser a, b, c;
  EXPECT_EQ(request_framing(request(a, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")).kind, Framing::kNone);
  const BodyFraming cl =
      request_framing(request(b, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n"));
  EXPECT_EQ(cl.kind, Framing::kContentLength);
  EXPECT_EQ(cl.length, 12u);
  EXPECT_EQ(request_framing(request(c,
                                    "POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"))
                .kind,
            Framing::kChunked);
}

TEST(Framing, ResponsesDependOnStatusAndRequestMethod) {
  struct Case {
    Method method;
    std::string head;
    Framing framing;
  };
  const std::string cl = "\r\nContent-Length: 10\r\n\r\n";
  for (const Case& c : std::vector<Case>{
           {Method::kHead, "HTTP/1.1 200 OK" + cl, Framing::kNone},
           {Method::kGet, "HTTP/1.1 100 Continue" + cl, Framing::kNone},
           {Method::kGet, "HTTP/1.1 204 No Content" + cl, Framing::kNone},
           {Method::kGet, "HTTP/1.1 304 Not Modified" + cl, Framing::kNone},
           {Method::kGet, "HTTP/1.1 101 Switching Protocols\r\n\r\n", Framing::kTunnel},
           {Method::kConnect, "HTTP/1.1 200 OK\r\n\r\n", Framing::kTunnel},
           {Method::kConnect, "HTTP/1.1 407 Auth" + cl, Framing::kContentLength},
           {Method::kGet, "HTTP/1.1 200 OK" + cl, Framing::kContentLength},
           {Method::kGet, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            Framing::kChunked},
           {Method::kGet, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            Framing::kUntilClose},
           {Method::kGet, "HTTP/1.1 200 OK\r\n\r\n", Framing::kUntilClose},
       }) {
    ResponseParser p;
    EXPECT_EQ(response_framing(c.method, response(p, c.head)).kind, c.framing) << c.head;
  }
}

}  // namespace
}  // namespace spindle::http
