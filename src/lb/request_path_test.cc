#include "lb/request_path.h"

#include <gtest/gtest.h>

namespace spindle::lb {
namespace {

std::string norm(std::string_view target) {
  std::string scratch;
  return std::string(normalized_path(target, &scratch));
}

TEST(RequestPath, PlainPathsComeBackAsViewsWithoutTheQuery) {
  std::string scratch;
  std::string_view target = "/a/b?x=/../_lb/register";
  std::string_view p = normalized_path(target, &scratch);
  EXPECT_EQ(p, "/a/b");
  EXPECT_EQ(p.data(), target.data());  // no copy
  EXPECT_EQ(norm("/"), "/");
  EXPECT_EQ(norm("*"), "*");
  EXPECT_EQ(norm("example.com:443"), "example.com:443");
}

TEST(RequestPath, AbsoluteFormGivesItsPath) {
  EXPECT_EQ(norm("http://x/_lb/register"), "/_lb/register");
  EXPECT_EQ(norm("HTTP://x:80/_lb/register?q"), "/_lb/register");
  EXPECT_EQ(norm("http://x"), "/");
  EXPECT_EQ(norm("http://x?a=/b"), "/");
  EXPECT_EQ(norm("http://x/a/../_lb/backends"), "/_lb/backends");
}

TEST(RequestPath, DotSegmentsEmptySegmentsAndUnreservedEscapes) {
  EXPECT_EQ(norm("/x/../_lb/register"), "/_lb/register");
  EXPECT_EQ(norm("/../_lb/register"), "/_lb/register");
  EXPECT_EQ(norm("/%5flb/register"), "/_lb/register");
  EXPECT_EQ(norm("/%5F%6c%62/register"), "/_lb/register");
  EXPECT_EQ(norm("//_lb//register"), "/_lb/register");
  EXPECT_EQ(norm("/_lb/./register"), "/_lb/register");
  EXPECT_EQ(norm("/a/b/%2E%2E/../_lb/register"), "/_lb/register");
  EXPECT_EQ(norm("/_lb/register/."), "/_lb/register/");
  EXPECT_EQ(norm("/a/.."), "/");
  EXPECT_EQ(norm("/.well-known/x"), "/.well-known/x");
  // Reserved characters stay encoded: "%2F" is not a separator, "%25" not a percent.
  EXPECT_EQ(norm("/%5flb%2fregister"), "/_lb%2fregister");
  EXPECT_EQ(norm("/%255flb/register"), "/%255flb/register");
  // Malformed escapes pass as they are.
  EXPECT_EQ(norm("/%zz/%5"), "/%zz/%5");
}

TEST(RequestPath, TheApiNamespace) {
  EXPECT_TRUE(in_api_namespace("/_lb/register"));
  EXPECT_TRUE(in_api_namespace("/_lb/unknown"));
  EXPECT_TRUE(in_api_namespace("/_lb"));
  EXPECT_FALSE(in_api_namespace("/_lbx/register"));
  EXPECT_FALSE(in_api_namespace("/_LB/register"));
  EXPECT_FALSE(in_api_namespace("/_lb%2fregister"));
  EXPECT_FALSE(in_api_namespace("/"));
}

}  // namespace
}  // namespace spindle::lb
