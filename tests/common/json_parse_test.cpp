// The fast JSON parse: the same document as nlohmann::json::parse for everything it accepts,
// and nullopt (the caller's reference path) for everything else.
#include "wonderland/common/json_parse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace wonderland {
namespace {

using nlohmann::json;

/// Parses on the fast path and checks the document against nlohmann's, value and type.
void expect_same_as_reference(const std::string& text) {
  SCOPED_TRACE(text);
  auto fast = parse_json_fast(text, JsonLimits::http());
  ASSERT_TRUE(fast.has_value());
  json reference = json::parse(text);
  EXPECT_EQ(*fast, reference);
  EXPECT_EQ(fast->dump(), reference.dump());
  EXPECT_EQ(fast->type(), reference.type());
}

TEST(JsonParseFast, BuildsTheSameDocumentAsNlohmann) {
  for (const char* text :
       {R"({"body":{"lines":[{"book_id":"b-1","quantity":2,"price_cents":1299}]},"type":"x"})",
        R"([])",
        R"({})",
        R"([[],{},[{}]])",
        R"("just a string")",
        R"(0)",
        R"(-1)",
        R"(42)",
        R"(true)",
        R"(false)",
        R"(null)",
        R"(1.5)",
        R"(-0.0)",
        R"(1e300)",
        R"(2.5E-3)",
        R"(9223372036854775807)",
        R"(-9223372036854775808)",
        R"(9223372036854775808)",
        R"(18446744073709551615)",
        R"(0.1)",
        R"(123456789.123456789)",
        R"("tab\t quote\" slash\/ back\\ nl\n uni\u00e9 \u20ac \ud83d\ude00 nul\u0000")",
        "\"raw UTF-8: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
        " \t\r\n[ 1 , 2 ]\n ",
        R"({"b":1,"a":2,"c":{"z":[1,2,{"y":null}]}})"}) {
    expect_same_as_reference(text);
  }
}

TEST(JsonParseFast, ARepeatedMemberNameKeepsTheLastValueLikeNlohmann) {
  expect_same_as_reference(R"({"k":1,"k":"two","j":[1],"j":{}})");
  EXPECT_EQ((*parse_json_fast(R"({"k":1,"k":"two"})", JsonLimits::http()))["k"], "two");
}

TEST(JsonParseFast, NonNegativeIntegersAreUnsignedAsInNlohmann) {
  auto doc = parse_json_fast(R"([7,-7])", JsonLimits::http());
  ASSERT_TRUE(doc);
  EXPECT_TRUE((*doc)[0].is_number_unsigned());
  EXPECT_TRUE((*doc)[1].is_number_integer());
  EXPECT_FALSE((*doc)[1].is_number_unsigned());
}

TEST(JsonParseFast, InvalidTextIsLeftToTheReferencePath) {
  for (const char* text : {"",
                           " ",
                           "[1,]",
                           "{\"a\"}",
                           "{\"a\":1,}",
                           "[1]x",
                           "01",
                           "1.",
                           "-",
                           "\"unterminated",
                           "\"bad escape \\q\"",
                           "\"lone \\ud800\"",
                           "\"lone \\udc00\"",
                           "\"control \x01\"",
                           "\"bad UTF-8 \xc3\x28\"",
                           "\"overlong \xc0\xaf\"",
                           "NaN",
                           "[1 2]",
                           "{'a':1}",
                           "tru"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_json_fast(text, JsonLimits::http()));
    EXPECT_TRUE(json::parse(text, nullptr, false).is_discarded());
  }
}

TEST(JsonParseFast, WhatOnlyNlohmannAcceptsIsLeftToTheReferencePath) {
  // Integers beyond 64 bits (nlohmann makes them doubles) and a byte-order mark.
  for (const char* text : {"18446744073709551616", "[-9223372036854775809]", "\xef\xbb\xbf[1]"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_json_fast(text, JsonLimits::http()));
    auto bounded = parse_json_bounded(text, JsonLimits::http());
    ASSERT_TRUE(bounded.ok());
    EXPECT_EQ(*bounded, json::parse(text));
  }
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(JsonParseFast, DepthExactlyAtTheLimitIsAcceptedAndOneMoreIsNot) {
  for (const JsonLimits& limits : {JsonLimits::http(), JsonLimits::message()}) {
    EXPECT_TRUE(parse_json_fast(nested_arrays(limits.max_depth), limits));
    EXPECT_FALSE(parse_json_fast(nested_arrays(limits.max_depth + 1), limits));
    // 200,000 levels: refused without recursion.
    EXPECT_FALSE(parse_json_fast(nested_arrays(200'000), limits));
  }
  // The two limits used one after another on one thread keep their own depth.
  EXPECT_TRUE(parse_json_fast(nested_arrays(100), JsonLimits::message()));
  EXPECT_FALSE(parse_json_fast(nested_arrays(100), JsonLimits::http()));
  EXPECT_TRUE(parse_json_fast(nested_arrays(100), JsonLimits::message()));
}

TEST(JsonParseFast, ADepthLimitAboveWhatItBuildsIsLeftToTheReferencePath) {
  JsonLimits generous{.max_depth = 300'000,
                      .max_string_bytes = 10,
                      .max_elements = 1'000'000,
                      .max_bytes = 1'000'000};
  EXPECT_FALSE(parse_json_fast(nested_arrays(200'000), generous));
  EXPECT_FALSE(parse_json_fast("[1]", generous));
  auto deep = parse_json_bounded(nested_arrays(200'000), generous);
  EXPECT_TRUE(deep.ok());
}

TEST(JsonParseFast, StringValueAndSizeLimitsHold) {
  JsonLimits limits{.max_depth = 8, .max_string_bytes = 4, .max_elements = 6, .max_bytes = 64};
  EXPECT_TRUE(parse_json_fast(R"(["abcd"])", limits));
  EXPECT_FALSE(parse_json_fast(R"(["abcde"])", limits));
  EXPECT_FALSE(parse_json_fast(R"({"abcde":1})", limits));
  EXPECT_TRUE(parse_json_fast(R"([1,2,3,4,5])", limits));           // 6 values with the array
  EXPECT_FALSE(parse_json_fast(R"([1,2,3,4,5,6])", limits));        // 7
  EXPECT_FALSE(parse_json_fast(R"({"a":1,"b":2,"c":3})", limits));  // 7 with the names
  EXPECT_FALSE(parse_json_fast("[" + std::string(70, ' ') + "]", limits));  // over max_bytes
}

TEST(JsonParseFast, ALargeDocumentThenSmallOnesOnTheSameThread) {
  json big = json::array();
  for (int i = 0; i < 40'000; ++i)
    big.push_back({{"i", i}, {"s", std::string(20, 'x')}});
  std::string text = big.dump();
  ASSERT_GT(text.size(), std::size_t{1} << 20);  // past what a thread keeps
  auto doc = parse_json_fast(text, JsonLimits::message());
  ASSERT_TRUE(doc);
  EXPECT_EQ(*doc, big);
  expect_same_as_reference(R"({"after":"the large one"})");
  EXPECT_TRUE(parse_json_fast(text, JsonLimits::message()));
}

TEST(JsonParseFast, ThreadsParseAtOnce) {
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &mismatches] {
      for (int i = 0; i < 2000; ++i) {
        json doc = {
            {"thread", t}, {"i", i}, {"pad", std::string(static_cast<std::size_t>(i % 300), 'p')}};
        auto parsed = parse_json_fast(doc.dump(), JsonLimits::message());
        if (!parsed || *parsed != doc)
          ++mismatches[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(ParseStoredJson, GivesNlohmannsDocumentOrADiscardedValue) {
  const std::string record = R"({"reply":{"reservation_id":"r-1","lines":[{"qty":2}]},"n":-3})";
  EXPECT_EQ(parse_stored_json(record), json::parse(record));
  EXPECT_TRUE(parse_stored_json("{\"cut\":").is_discarded());
  EXPECT_TRUE(parse_stored_json("").is_discarded());
  // Deeper than a message may be: still read, by the reference parser.
  const std::string deep = nested_arrays(200);
  EXPECT_FALSE(parse_json_fast(deep, JsonLimits::message()));
  EXPECT_EQ(parse_stored_json(deep), json::parse(deep));
}

}  // namespace
}  // namespace wonderland
