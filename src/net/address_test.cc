// Address parsing, formatting and resolution; Error messages.
#include "net/address.h"

#include <gtest/gtest.h>
#include <netdb.h>

#include <cerrno>

#include "runtime/testing.h"

namespace spindle::net {
namespace {

struct ParseCase {
  const char* text;
  Family family;     // kNone: a parse error is expected
  const char* want;  // to_string() of the result, or a substring of the error detail
  uint16_t port = 0;
};

const ParseCase kParseCases[] = {
    {"127.0.0.1:8080", Family::kIPv4, "127.0.0.1:8080", 8080},
    {"0.0.0.0:0", Family::kIPv4, "0.0.0.0:0", 0},
    {":80", Family::kIPv4, "0.0.0.0:80", 80},
    {"255.255.255.255:65535", Family::kIPv4, "255.255.255.255:65535", 65535},
    {"[::1]:80", Family::kIPv6, "[::1]:80", 80},
    {"[::]:0", Family::kIPv6, "[::]:0", 0},
    {"[]:9", Family::kIPv6, "[::]:9", 9},
    {"[2001:db8::1]:443", Family::kIPv6, "[2001:db8::1]:443", 443},
    {"[::ffff:10.0.0.1]:1", Family::kIPv6, "[::ffff:10.0.0.1]:1", 1},
    {"[fe80::1%1]:80", Family::kIPv6, "[fe80::1%1]:80", 80},
    {"[fe80::1%lo]:80", Family::kIPv6, "[fe80::1%1]:80", 80},
    {"unix:/tmp/a.sock", Family::kUnix, "/tmp/a.sock"},
    {"/run/spindle.sock", Family::kUnix, "/run/spindle.sock"},
    {"unix:@spindle-test", Family::kUnix, "@spindle-test"},
    // Errors: the detail names the problem.
    {"", Family::kNone, "missing port"},
    {"127.0.0.1", Family::kNone, "missing port"},
    {"127.0.0.1:", Family::kNone, "missing port"},
    {"127.0.0.1:65536", Family::kNone, "port out of range"},
    {"127.0.0.1:99999999999", Family::kNone, "port out of range"},
    {"127.0.0.1:8o", Family::kNone, "port is not a number"},
    {"127.0.0.1:-1", Family::kNone, "port is not a number"},
    {"127.0.0.1: 80", Family::kNone, "port is not a number"},
    {"256.0.0.1:80", Family::kNone, "not an IP address"},
    {"localhost:80", Family::kNone, "use resolve()"},
    {"::1:80", Family::kNone, "need brackets"},
    {"[::1:80", Family::kNone, "missing ']'"},
    {"[::1]80", Family::kNone, "missing port after ']'"},
    {"[::1]", Family::kNone, "missing port after ']'"},
    {"[127.0.0.1]:80", Family::kNone, "not an IPv6 address"},
    {"[fe80::1%no-such-if]:80", Family::kNone, "not an IPv6 address"},
    {"unix:", Family::kNone, "empty Unix socket path"},
};

TEST(ParseAddress, Table) {
  for (const ParseCase& c : kParseCases) {
    SCOPED_TRACE(c.text);
    auto a = parse_address(c.text);
    if (c.family == Family::kNone) {
      ASSERT_FALSE(a.ok()) << a->to_string();
      EXPECT_EQ(a.error().kind, ErrorKind::kAddress);
      EXPECT_NE(a.error().detail.find(c.want), std::string::npos) << a.error().detail;
      EXPECT_NE(a.error().message().find(c.want), std::string::npos) << a.error().message();
      continue;
    }
    ASSERT_TRUE(a.ok()) << a.error().message();
    EXPECT_EQ(a->family(), c.family);
    EXPECT_EQ(a->to_string(), c.want);
    EXPECT_EQ(a->port(), c.port);
    // Formatting round-trips through the parser.
    std::string text = a->to_string();
    if (a->family() == Family::kUnix) text = "unix:" + text;
    auto again = parse_address(text);
    ASSERT_TRUE(again.ok()) << text;
    EXPECT_TRUE(*again == *a) << text;
  }
}

TEST(ParseAddress, UnixPathLimit) {
  EXPECT_TRUE(Address::unix_path(std::string(107, 'a')).ok());
  auto a = Address::unix_path(std::string(108, 'a'));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().detail.find("longer than 107"), std::string::npos);
}

TEST(ParseAddress, IpString) {
  EXPECT_EQ(parse_address("192.0.2.1:5000")->ip_string(), "192.0.2.1");
  EXPECT_EQ(parse_address("[2001:db8::1]:5000")->ip_string(), "2001:db8::1");
  EXPECT_EQ(parse_address("/run/x.sock")->ip_string(), "");
}

TEST(ParseAddress, Loopback) {
  for (const char* a : {"127.0.0.1:1", "127.9.8.7:1", "[::1]:1", "[::ffff:127.0.0.1]:1"}) {
    EXPECT_TRUE(parse_address(a)->is_loopback()) << a;
  }
  for (const char* a : {"128.0.0.1:1", "0.0.0.0:1", "[::]:1", "[::2]:1", "[::ffff:10.0.0.1]:1",
                        "[fe80::1%1]:1", "/run/127.0.0.1"}) {
    EXPECT_FALSE(parse_address(a)->is_loopback()) << a;
  }
}

TEST(ParseAddress, WithPort) {
  auto a = parse_address("[::1]:0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->with_port(99).to_string(), "[::1]:99");
  EXPECT_EQ(Address().to_string(), "");
  EXPECT_EQ(Address().family(), Family::kNone);
}

TEST(Error, MessagesAndClasses) {
  Error refused = Error::from_errno(ECONNREFUSED, "dial", "127.0.0.1:9");
  EXPECT_EQ(refused.message(), "dial 127.0.0.1:9: Connection refused");
  EXPECT_FALSE(refused.temporary());
  EXPECT_FALSE(refused.timeout());
  Error t = Error::timeout("read", "[::1]:80");
  EXPECT_EQ(t.message(), "read [::1]:80: i/o timeout");
  EXPECT_TRUE(t.timeout());
  EXPECT_TRUE(t.temporary());
  EXPECT_TRUE(Error::from_errno(ETIMEDOUT, "dial").timeout());
  EXPECT_TRUE(Error::from_errno(EMFILE, "accept").temporary());
  Error c = Error::closed("accept", "127.0.0.1:1");
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(c.message(), "accept 127.0.0.1:1: use of closed network connection");
  Error r{ErrorKind::kResolve, EAI_NONAME, "resolve", "nowhere"};
  EXPECT_NE(r.message().find("resolve nowhere: "), std::string::npos);
  EXPECT_STREQ(to_string(ErrorKind::kUnexpectedEof), "unexpected EOF");
}

class ResolveTest : public runtime::testing::RuntimeTest {};

TEST_P(ResolveTest, LocalhostAndLiterals) {
  run([] {
    auto local = resolve("localhost", 8080);
    ASSERT_TRUE(local.ok()) << local.error().message();
    ASSERT_FALSE(local->empty());
    for (const Address& a : *local) {
      EXPECT_TRUE(a.is_ip());
      EXPECT_EQ(a.port(), 8080);
    }
    auto literal = resolve("127.0.0.1:99");
    ASSERT_TRUE(literal.ok());
    ASSERT_EQ(literal->size(), 1u);
    EXPECT_EQ((*literal)[0].to_string(), "127.0.0.1:99");
    auto v6 = resolve("::1", 7);
    ASSERT_TRUE(v6.ok()) << v6.error().message();
    EXPECT_EQ((*v6)[0].to_string(), "[::1]:7");
    auto bad = resolve("localhost:http");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().kind, ErrorKind::kAddress);
  });
}

SPINDLE_INSTANTIATE_PROCS(ResolveTest);

}  // namespace
}  // namespace spindle::net
