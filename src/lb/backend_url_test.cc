#include "lb/backend_url.h"

#include <gtest/gtest.h>

namespace spindle::lb {
namespace {

TEST(BackendUrlTest, Normalises) {
  struct Row {
    const char* in;
    const char* url;
    const char* address;
  } rows[] = {
      {"http://127.0.0.1:9001", "http://127.0.0.1:9001", "127.0.0.1:9001"},
      {"HTTP://LocalHost:80/", "http://localhost:80", "localhost:80"},
      {"http://[::1]:9001", "http://[::1]:9001", "[::1]:9001"},
      {"http://backend-1.internal:8080", "http://backend-1.internal:8080",
       "backend-1.internal:8080"},
  };
  for (const Row& r : rows) {
    auto u = parse_backend_url(r.in);
    ASSERT_TRUE(u.ok()) << r.in << ": " << u.error();
    EXPECT_EQ(u->url, r.url);
    EXPECT_EQ(u->address, r.address);
  }
}

TEST(BackendUrlTest, Rejects) {
  for (const char* bad :
       {"", "127.0.0.1:80", "https://a:1", "http://a", "http://a:0", "http://a:65536",
        "http://a:80/path", "http://u@a:80", "http://a:80?q", "http://:80", "http://[::1:80",
        "http://a b:80", "http://a:8o", "http://[zz]:80"}) {
    EXPECT_FALSE(parse_backend_url(bad).ok()) << bad;
  }
}

TEST(BackendUrlTest, LoopDetection) {
  auto a = [](const char* s) { return *net::parse_address(s); };
  std::vector<net::Address> local = {a("10.1.2.3:0"), a("127.0.0.1:0")};
  // Exact listen address.
  EXPECT_TRUE(points_at({a("127.0.0.1:8080")}, a("127.0.0.1:8080"), local));
  EXPECT_FALSE(points_at({a("127.0.0.1:8081")}, a("127.0.0.1:8080"), local));
  EXPECT_FALSE(points_at({a("127.0.0.2:8080")}, a("127.0.0.1:8080"), local));
  // A wildcard target reaches this host even when we listen on one address.
  EXPECT_TRUE(points_at({a("0.0.0.0:8080")}, a("127.0.0.1:8080"), local));
  EXPECT_TRUE(points_at({a("[::]:8080")}, a("127.0.0.1:8080"), local));
  EXPECT_TRUE(points_at({a("[::ffff:0.0.0.0]:8080")}, a("127.0.0.1:8080"), local));
  EXPECT_FALSE(points_at({a("0.0.0.0:8081")}, a("127.0.0.1:8080"), local));
  // Wildcard listen: loopback, any local interface, 0.0.0.0 itself; not a remote host.
  EXPECT_TRUE(points_at({a("127.0.0.1:8080")}, a("0.0.0.0:8080"), local));
  EXPECT_TRUE(points_at({a("127.9.9.9:8080")}, a("0.0.0.0:8080"), local));
  EXPECT_TRUE(points_at({a("10.1.2.3:8080")}, a("0.0.0.0:8080"), local));
  EXPECT_TRUE(points_at({a("0.0.0.0:8080")}, a("0.0.0.0:8080"), local));
  EXPECT_TRUE(points_at({a("[::1]:8080")}, a("[::]:8080"), local));
  EXPECT_FALSE(points_at({a("10.9.9.9:8080")}, a("0.0.0.0:8080"), local));
  EXPECT_FALSE(points_at({a("10.1.2.3:9090")}, a("0.0.0.0:8080"), local));
}

}  // namespace
}  // namespace spindle::lb
