#include "http/fields.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/chars.h"

namespace spindle::http {
namespace {

TEST(TokenList, SplitsTrimsAndSkipsEmptyElements) {
  std::vector<std::string> got;
  for (std::string_view t : TokenList(" a ,, b\t,c , ")) got.emplace_back(t);
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(TokenList("").begin(), TokenList("").end());
  EXPECT_EQ(TokenList(" , ,").begin(), TokenList(" , ,").end());
}

TEST(TokenList, ContainsIsCaseInsensitiveAndWholeToken) {
  EXPECT_TRUE(list_contains("keep-alive, Close", "close"));
  EXPECT_FALSE(list_contains("closed", "close"));
  EXPECT_FALSE(list_contains("", "close"));
}

TEST(HeaderList, LookupIsCaseInsensitive) {
  const std::vector<Header> fields = {
      {"Host", "a"}, {"connection", "X-Secret, close"}, {"X-A", "1"}, {"x-a", "2"}};
  const HeaderList list(fields);
  EXPECT_EQ(list.find("HOST")->value, "a");
  EXPECT_EQ(list.find("x-a")->value, "1");
  EXPECT_EQ(list.find("missing"), nullptr);
  EXPECT_EQ(list.count("X-A"), 2u);
  EXPECT_TRUE(list.has_token("Connection", "CLOSE"));
}

TEST(HopByHop, FixedSetAndFieldsNamedByConnection) {
  const std::vector<Header> fields = {{"Connection", "X-Secret"}, {"X-Secret", "1"}};
  const HeaderList list(fields);
  for (const char* name : {"Connection", "keep-alive", "TE", "Trailer", "transfer-encoding",
                           "Upgrade", "Proxy-Authorization", "Proxy-Connection", "x-secret"}) {
    EXPECT_TRUE(is_hop_by_hop(name, list)) << name;
  }
  for (const char* name : {"Host", "Content-Length", "Trailers", "X-Other"}) {
    EXPECT_FALSE(is_hop_by_hop(name, list)) << name;
  }
}

TEST(FieldLine, SplitsNameAndTrimmedValue) {
  Header h;
  ASSERT_EQ(parse_field_line("Name:\t value with  spaces \t", &h), nullptr);
  EXPECT_EQ(h.name, "Name");
  EXPECT_EQ(h.value, "value with  spaces");
  ASSERT_EQ(parse_field_line("Empty:", &h), nullptr);
  EXPECT_EQ(h.value, "");
  ASSERT_EQ(parse_field_line("X: caf\xc3\xa9", &h), nullptr);  // obs-text is allowed
}

TEST(Chars, HexValuesAndUnreserved) {
  EXPECT_EQ(chars::hex_value('0'), 0);
  EXPECT_EQ(chars::hex_value('9'), 9);
  EXPECT_EQ(chars::hex_value('a'), 10);
  EXPECT_EQ(chars::hex_value('F'), 15);
  for (char c : std::string_view("gG/:@` \x80")) EXPECT_EQ(chars::hex_value(c), -1) << c;
  for (int c = 0; c < 256; ++c) {
    EXPECT_EQ(chars::is(static_cast<char>(c), chars::kHex),
              chars::hex_value(static_cast<char>(c)) >= 0);
  }
  for (char c : std::string_view("azAZ09-._~")) EXPECT_TRUE(chars::is(c, chars::kUnreserved)) << c;
  for (char c : std::string_view("%/?#[]@!$&'()*+,;= \x7f\x80")) {
    EXPECT_FALSE(chars::is(c, chars::kUnreserved)) << c;
  }
}

}  // namespace
}  // namespace spindle::http
