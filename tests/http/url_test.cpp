#include "wonderland/http/url.hpp"

#include <gtest/gtest.h>

namespace wonderland::http {
namespace {

TEST(PercentDecode, DecodesEscapesAndKeepsOtherBytes) {
  EXPECT_EQ(percent_decode("a%20b%2Fc%7e"), "a b/c~");
  EXPECT_EQ(percent_decode("%C3%A9t%C3%A9"), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode(""), "");
}

TEST(PercentDecode, RejectsMalformedEscapes) {
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("abc%2"));
  EXPECT_FALSE(percent_decode("%zz"));
  EXPECT_FALSE(percent_decode("%2g"));
}

TEST(PercentEncode, EncodesAllButUnreservedAndRoundTrips) {
  EXPECT_EQ(percent_encode("978-0-14/3 é?&="), "978-0-14%2F3%20%C3%A9%3F%26%3D");
  EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
  std::string all;
  for (int c = 0; c < 256; ++c)
    all.push_back(static_cast<char>(c));
  EXPECT_EQ(percent_decode(percent_encode(all)), all);
}

TEST(ParseQuery, DecodesRepeatsAndFlags) {
  auto q = parse_query("q=alice%20in+wonderland&tag=a&tag=b&flag&&empty=&x%3Dy=1%262");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->get("q"), "alice in wonderland");
  EXPECT_EQ(q->all("tag"), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(q->get("flag"), "");
  EXPECT_EQ(q->get("empty"), "");
  EXPECT_EQ(q->get("x=y"), "1&2");
  EXPECT_FALSE(q->get("missing"));
  EXPECT_EQ(q->size(), 6u);
}

TEST(ParseQuery, MalformedEscapeNamesTheParameter) {
  auto q = parse_query("ok=1&page=%zz");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().code, codes::kInvalidArgument);
  EXPECT_NE(q.error().message.find("'page'"), std::string::npos) << q.error().message;
}

}  // namespace
}  // namespace wonderland::http
