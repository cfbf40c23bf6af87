#include "lb/forwarding.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spindle::lb {
namespace {

std::string find(const ForwardedFields& f, std::string_view name) {
  std::string out;
  int n = 0;
  for (const http::Header& h : f.fields) {
    if (h.name == name) {
      out = std::string(h.value);
      ++n;
    }
  }
  return n == 1 ? out : n == 0 ? "<none>" : "<dup>";
}

TEST(ForwardingTest, HopByHopRemovedThenForwardingAdded) {
  std::vector<http::Header> in = {
      {"Host", "example.com"},
      {"Connection", "keep-alive, X-Forwarded-For, Via, X-Forwarded-Host, X-Secret"},
      {"X-Secret", "s"},
      {"Keep-Alive", "timeout=5"},
      {"TE", "trailers"},
      {"Trailer", "X-T"},
      {"Upgrade", "websocket"},
      {"Proxy-Authorization", "Basic x"},
      {"Proxy-Connection", "keep-alive"},
      {"X-Forwarded-For", "203.0.113.9"},
      {"X-Forwarded-Proto", "https"},
      {"Accept", "*/*"},
  };
  ForwardedFields f;
  forward_request_fields(http::HeaderList(in), "192.0.2.1", "example.com", f);
  for (const char* gone : {"Connection", "X-Secret", "Keep-Alive", "TE", "Trailer", "Upgrade",
                           "Proxy-Authorization", "Proxy-Connection"}) {
    EXPECT_EQ(find(f, gone), "<none>") << gone;
  }
  // CVE-2024-45410: the client named them in Connection, yet they are all there, ours.
  EXPECT_EQ(find(f, "X-Forwarded-For"), "192.0.2.1");
  EXPECT_EQ(find(f, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(find(f, "X-Forwarded-Host"), "example.com");
  EXPECT_EQ(find(f, "Via"), "1.1 spindle-lb");
  EXPECT_EQ(find(f, "Accept"), "*/*");
}

TEST(ForwardingTest, ForwardedForAppendsInOrder) {
  std::vector<http::Header> in = {{"X-Forwarded-For", "1.1.1.1"},
                                  {"Via", "1.0 edge"},
                                  {"X-Forwarded-For", "2.2.2.2, 3.3.3.3"},
                                  {"X-Forwarded-Host", "spoofed"}};
  ForwardedFields f;
  forward_request_fields(http::HeaderList(in), "::1", "h", f);
  EXPECT_EQ(find(f, "X-Forwarded-For"), "1.1.1.1, 2.2.2.2, 3.3.3.3, ::1");
  EXPECT_EQ(find(f, "Via"), "1.0 edge, 1.1 spindle-lb");
  EXPECT_EQ(find(f, "X-Forwarded-Host"), "h");
}

TEST(ForwardingTest, ResponseKeepsLengthDropsHopByHop) {
  std::vector<http::Header> in = {{"Content-Length", "13"},
                                  {"Connection", "close, X-Internal"},
                                  {"X-Internal", "1"},
                                  {"Transfer-Encoding", "chunked"},
                                  {"Content-Type", "text/plain"}};
  ForwardedFields f;
  forward_response_fields(http::HeaderList(in), 13, f);
  EXPECT_EQ(find(f, "Content-Length"), "13");
  EXPECT_EQ(find(f, "Connection"), "<none>");
  EXPECT_EQ(find(f, "X-Internal"), "<none>");
  EXPECT_EQ(find(f, "Transfer-Encoding"), "<none>");
  EXPECT_EQ(find(f, "Content-Type"), "text/plain");
  EXPECT_EQ(find(f, "Via"), "1.1 spindle-lb");
}

TEST(ForwardingTest, TransferCodingsOtherThanChunked) {
  auto other = [](std::vector<http::Header> f) {
    return has_other_transfer_coding(http::HeaderList(std::move(f)));
  };
  EXPECT_FALSE(other({{"Transfer-Encoding", "chunked"}}));
  EXPECT_FALSE(other({{"transfer-encoding", " CHUNKED "}}));
  EXPECT_FALSE(other({{"Content-Length", "5"}}));
  EXPECT_TRUE(other({{"Transfer-Encoding", "gzip, chunked"}}));
  EXPECT_TRUE(other({{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}));
  EXPECT_TRUE(other({{"Transfer-Encoding", "deflate"}}));
}

TEST(ForwardingTest, AbsoluteFormTargetsBecomeOriginFormWithTheirAuthority) {
  struct Case {
    const char* target;
    const char* authority;
    const char* origin;
  } cases[] = {
      {"http://example.com/p?q=1", "example.com", "/p?q=1"},
      {"HTTP://Example.com:8080", "Example.com:8080", "/"},
      {"http://example.com?q", "example.com", "/?q"},
      {"https://[::1]:443/a/b", "[::1]:443", "/a/b"},
      {"http://example.com/p#frag", "example.com", "/p"},
  };
  for (const Case& c : cases) {
    UpstreamTarget t;
    EXPECT_EQ(split_target(c.target, t), std::nullopt) << c.target;
    EXPECT_EQ(t.authority, c.authority) << c.target;
    EXPECT_EQ(t.origin, c.origin) << c.target;
  }
  for (const char* same : {"/p?q", "*"}) {
    UpstreamTarget t;
    EXPECT_EQ(split_target(same, t), std::nullopt);
    EXPECT_TRUE(t.authority.empty());
  }
  for (const char* bad : {"ftp://example.com/", "http:/example.com", "http:///p",
                          "http://user:pw@example.com/", "mailto:a@b"}) {
    UpstreamTarget t;
    EXPECT_NE(split_target(bad, t), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace spindle::lb
