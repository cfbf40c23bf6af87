#include "loadgen/target.h"

#include <gtest/gtest.h>

namespace spindle::loadgen {
namespace {

TEST(ParseUrl, SplitsAddressHostAndPath) {
  Target t;
  ASSERT_TRUE(parse_url("http://127.0.0.1:8080/a/b?c=d#frag", &t).ok());
  EXPECT_EQ(t.address, "127.0.0.1:8080");
  EXPECT_EQ(t.host, "127.0.0.1:8080");
  EXPECT_EQ(t.path, "/a/b?c=d");
  ASSERT_TRUE(parse_url("http://example.test", &t).ok());
  EXPECT_EQ(t.address, "example.test:80");
  EXPECT_EQ(t.path, "/");
  ASSERT_TRUE(parse_url("http://[::1]:81?x", &t).ok());
  EXPECT_EQ(t.address, "[::1]:81");
  EXPECT_EQ(t.path, "/?x");
  EXPECT_EQ(t.describe(), "GET [::1]:81/?x");
  for (const char* bad : {"https://a/", "ftp://a/", "http://", "http://a:0/", "http://a:x/",
                          "http://u@a/", "http://a/ b"}) {
    EXPECT_FALSE(parse_url(bad, &t).ok()) << bad;
  }
  EXPECT_EQ(parse_url("https://a/", &t).error(), "https is not supported");
}

base::Result<FileText, std::string> fake_file(const std::string& path) {
  if (path == "body.json") return FileText{"{\"a\":1}"};
  return std::string(path + ": No such file or directory");
}

TEST(ParseTargets, ReadsVegetaFormat) {
  auto t = parse_targets(
      "# comment\n"
      "GET http://h:1/one\n"
      "X-A: 1\n"
      "X-B:  two words \n"
      "\n"
      "\n"
      "POST http://h:2/two\r\n"
      "Content-Type: application/json\r\n"
      "@body.json\r\n",
      fake_file);
  ASSERT_TRUE(t.ok()) << t.error();
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].method, "GET");
  EXPECT_EQ((*t)[0].path, "/one");
  ASSERT_EQ((*t)[0].headers.size(), 2u);
  EXPECT_EQ((*t)[0].headers[1].second, "two words");
  EXPECT_EQ((*t)[1].method, "POST");
  EXPECT_EQ((*t)[1].address, "h:2");
  EXPECT_EQ((*t)[1].body, "{\"a\":1}");
  EXPECT_EQ((*t)[1].headers[0].first, "Content-Type");
}

TEST(ParseTargets, ErrorsNameTheLine) {
  EXPECT_EQ(parse_targets("GET http://h/\nbad header\n", fake_file).error(),
            "line 2: header \"bad header\" has no ':'");
  EXPECT_EQ(parse_targets("GET http://h/\n@missing\n", fake_file).error(),
            "line 2: missing: No such file or directory");
  EXPECT_EQ(parse_targets("http://h/\n", fake_file).error(), "line 1: expected \"METHOD URL\"");
  EXPECT_EQ(parse_targets("G(T http://h/\n", fake_file).error(), "line 1: bad method \"G(T\"");
  EXPECT_EQ(parse_targets("# only a comment\n", fake_file).error(), "no targets");
  EXPECT_FALSE(parse_header("X: a\x01").ok());
}

}  // namespace
}  // namespace spindle::loadgen
