// Bounded JSON: the iterative limit checks on text and on built documents.
#include "wonderland/common/json_limits.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wonderland {
namespace {

using nlohmann::json;

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

/// {"a":{"a":...{"a":1}...}} with `depth` objects.
std::string nested_objects(std::size_t depth) {
  std::string s;
  for (std::size_t i = 0; i < depth; ++i)
    s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

std::string message_of(const std::optional<Error>& e) {
  return e ? e->message : "(accepted)";
}

TEST(JsonLimits, DefaultsAreTheHttpLimits) {
  constexpr JsonLimits l = JsonLimits::http();
  EXPECT_EQ(l.max_depth, 64u);
  EXPECT_EQ(l.max_string_bytes, 64u * 1024);
  EXPECT_GT(JsonLimits::message().max_depth, l.max_depth);
}

TEST(JsonLimits, DepthExactlyAtTheLimitIsAccepted) {
  EXPECT_FALSE(check_json_limits(nested_arrays(64)));
  EXPECT_FALSE(check_json_limits(nested_objects(64)));
  auto parsed = parse_json_bounded(nested_arrays(64));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->is_array());
}

TEST(JsonLimits, DepthJustOverTheLimitIsRefusedNamingTheLimit) {
  auto e = check_json_limits(nested_arrays(65));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, codes::kInvalidArgument);
  EXPECT_EQ(e->message, "nesting depth exceeds the limit of 64 (at byte 64)");
  EXPECT_EQ(message_of(check_json_limits(nested_objects(65))),
            "nesting depth exceeds the limit of 64 (at byte 320)");
}

TEST(JsonLimits, TwoHundredThousandLevelsAreRefusedWithoutRecursion) {
  for (std::string text :
       {nested_arrays(200'000), nested_objects(200'000),
        "{\"payment\":{\"method\":\"visa\",\"x\":" + nested_arrays(200'000) + "}}",
        std::string(200'000, '[')}) {
    JsonLimits limits = JsonLimits::http();
    limits.max_bytes = 4 * 1024 * 1024;  // 200,000 nested objects take 1.2 MB
    auto parsed = parse_json_bounded(text, limits);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, codes::kInvalidArgument);
    EXPECT_TRUE(parsed.error().message.starts_with("nesting depth exceeds the limit of 64"))
        << parsed.error().message;
  }
}

TEST(JsonLimits, TenThousandLevelsAreRefusedToo) {
  auto parsed = parse_json_bounded("{\"a\":" + nested_arrays(10'000) + "}");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message, "nesting depth exceeds the limit of 64 (at byte 68)");
}

TEST(JsonLimits, BracketsInsideStringsAreNotNesting) {
  std::string text = "{\"k\":\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"}";
  EXPECT_FALSE(check_json_limits(text)) << message_of(check_json_limits(text));
  auto parsed = parse_json_bounded(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ((*parsed)["k"].get<std::string>().size(), 2001u);
}

TEST(JsonLimits, StringSizeAtAndOverTheLimit) {
  JsonLimits l{.max_depth = 8, .max_string_bytes = 10, .max_elements = 100, .max_bytes = 1000};
  EXPECT_FALSE(check_json_limits(R"({"k":"0123456789"})", l));
  EXPECT_EQ(message_of(check_json_limits(R"({"k":"0123456789A"})", l)),
            "a string of 11 bytes exceeds the limit of 10 bytes (at byte 5)");
  // Member names count as strings.
  EXPECT_EQ(message_of(check_json_limits(R"({"0123456789A":1})", l)),
            "a string of 11 bytes exceeds the limit of 10 bytes (at byte 1)");
  // Escapes are counted as written; an escaped quote does not end the string.
  EXPECT_EQ(message_of(check_json_limits(R"(["01234\"6789"])", l)),
            "a string of 11 bytes exceeds the limit of 10 bytes (at byte 1)");
  // An unterminated string is measured to the end of the text.
  EXPECT_TRUE(check_json_limits("\"" + std::string(20, 'x'), l));
}

TEST(JsonLimits, ElementCountAtAndOverTheLimit) {
  JsonLimits l{.max_depth = 8, .max_string_bytes = 10, .max_elements = 5, .max_bytes = 1000};
  EXPECT_FALSE(check_json_limits("[1,2.5e3,true,null]", l));  // 1 array + 4 scalars
  EXPECT_FALSE(check_json_limits(R"({"a":1,"b":-2})", l));    // object + 2 names + 2 numbers
  EXPECT_EQ(message_of(check_json_limits("[1, 2, 3, 4, false]", l)),
            "number of values exceeds the limit of 5 (at byte 13)");
  EXPECT_EQ(message_of(check_json_limits("[[],[],[],[],[]]", l)),
            "number of values exceeds the limit of 5 (at byte 13)");
}

TEST(JsonLimits, TextSize) {
  JsonLimits l{.max_depth = 8, .max_string_bytes = 100, .max_elements = 100, .max_bytes = 10};
  EXPECT_FALSE(check_json_limits("[1,2,3,45]", l));
  EXPECT_EQ(message_of(check_json_limits("[1,2,3,456]", l)),
            "JSON text of 11 bytes exceeds the limit of 10 bytes");
}

TEST(JsonLimits, SyntaxErrorsAreLeftToTheParser) {
  EXPECT_FALSE(check_json_limits("]]]]{{"));
  auto parsed = parse_json_bounded("{\"a\":");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, codes::kInvalidArgument);
  EXPECT_TRUE(parsed.error().message.starts_with("not valid JSON: parse error at line 1"))
      << parsed.error().message;
}

TEST(JsonLimits, BuiltDocumentsAreCheckedIteratively) {
  // Built by the (iterative) parser with a generous limit, then checked with the default one.
  JsonLimits generous{.max_depth = 300'000,
                      .max_string_bytes = 10,
                      .max_elements = 1'000'000,
                      .max_bytes = 1'000'000};
  auto deep = parse_json_bounded("{\"a\":[{\"b\":" + nested_arrays(200'000) + "}]}", generous);
  ASSERT_TRUE(deep.ok()) << deep.error().message;
  std::string where = "/a/0/b";
  for (int i = 0; i < 61; ++i)
    where += "/0";
  EXPECT_EQ(message_of(check_json_value_limits(*deep)),
            "nesting depth exceeds the limit of 64 (at " + where + ")");

  json at_limit = json::array();
  json* inner = &at_limit;
  for (int i = 1; i < 64; ++i)
    inner = &inner->emplace_back(json::array());
  EXPECT_FALSE(check_json_value_limits(at_limit));
  inner->emplace_back(json::array());
  EXPECT_TRUE(check_json_value_limits(at_limit));

  JsonLimits small{.max_depth = 8, .max_string_bytes = 3, .max_elements = 4, .max_bytes = 0};
  EXPECT_EQ(message_of(check_json_value_limits(json{{"a/b", {{"c~", "long"}}}}, small)),
            "a string of 4 bytes exceeds the limit of 3 bytes (at /a~1b/c~0)");
  EXPECT_EQ(message_of(check_json_value_limits(json{{"long", 1}}, small)),
            "a member name of 4 bytes exceeds the limit of 3 bytes (at /)");
  EXPECT_EQ(message_of(check_json_value_limits(json{1, 2, 3, 4}, small)),
            "number of values exceeds the limit of 4 (at /3)");
  EXPECT_FALSE(check_json_value_limits(json{1, 2, 3}, small));
  EXPECT_FALSE(check_json_value_limits(json(42), small));
}

}  // namespace
}  // namespace wonderland
