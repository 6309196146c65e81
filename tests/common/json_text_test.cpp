// The journal's JSON writer against nlohmann::json::dump().
#include "wonderland/common/json_text.hpp"

#include <gtest/gtest.h>

namespace wonderland {
namespace {

using nlohmann::json;

TEST(JsonText, MatchesDump) {
  const json cases[] = {
      nullptr,
      true,
      false,
      0,
      -42,
      std::uint64_t{18446744073709551615ull},
      1.5,
      2.0,
      -0.001,
      1e300,
      "",
      "plain",
      "quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f ctl \x01 \x1f",
      "utf-8: \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x93\x9A",
      json::array(),
      json::object(),
      {{"b", 1}, {"a", {1, 2, {{"z", nullptr}}}}, {"c", "x"}},
  };
  for (const json& j : cases) {
    std::string text = to_json_text(j);
    EXPECT_EQ(json::parse(text), j) << text;
    if (!j.is_number_float()) {
      EXPECT_EQ(text, j.dump());
    }
  }
  EXPECT_EQ(to_json_text(json(2.0)), "2.0");
  EXPECT_TRUE(json::parse(to_json_text(json(2.0))).is_number_float());
}

TEST(JsonText, NonFiniteAndInvalidUtf8NeverThrow) {
  EXPECT_EQ(to_json_text(json(std::nan(""))), "null");
  std::string bad = "ok \xC3 \xFF \xED\xA0\x80 end";  // truncated, stray, surrogate
  std::string text;
  EXPECT_NO_THROW(text = to_json_text(json(bad)));
  json back = json::parse(text);
  EXPECT_EQ(back.get<std::string>(),
            "ok \xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
}

}  // namespace
}  // namespace wonderland
