#include "wonderland/common/error.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

namespace wonderland {
namespace {

TEST(ErrorTest, RetryabilityFollowsCanonicalCode) {
  EXPECT_TRUE(Error::of(codes::kUnavailable, "x").retryable);
  EXPECT_TRUE(Error::of(codes::kDeadlineExceeded, "x").retryable);
  EXPECT_FALSE(Error::of(codes::kInvalidArgument, "x").retryable);
  EXPECT_FALSE(Error::of(codes::kInternal, "x").retryable);
}

TEST(ErrorTest, JsonRoundTrip) {
  Error e{codes::kConflict, "username taken", false};
  EXPECT_EQ(Error::from_json(e.to_json()), e);
  Error invalid{codes::kInvalidArgument, "invalid sign-up", false, {{"email", "not an address"}}};
  EXPECT_EQ(Error::from_json(invalid.to_json()), invalid);
  EXPECT_EQ(invalid.to_json()["fields"][0]["field"], "email");
  EXPECT_THROW(Error::from_json(nlohmann::json::object()), std::invalid_argument);
  EXPECT_THROW(Error::from_json(nlohmann::json{{"code", 3}}), std::invalid_argument);
}

TEST(ErrorTest, FromJsonRefusesMembersOfTheWrongType) {
  // Off the wire: each wrong type is a refusal the consumer dead-letters, not a JSON exception.
  auto with = [](const char* name, nlohmann::json value) {
    nlohmann::json j{{"code", "not_found"}};
    j[name] = std::move(value);
    return j;
  };
  EXPECT_THROW(Error::from_json(with("message", nlohmann::json::array())), std::invalid_argument);
  EXPECT_THROW(Error::from_json(with("retryable", "yes")), std::invalid_argument);
  EXPECT_THROW(Error::from_json(with("fields", "email")), std::invalid_argument);
  EXPECT_THROW(Error::from_json(with("fields", nlohmann::json::array({1}))), std::invalid_argument);
  EXPECT_THROW(Error::from_json(with("fields", nlohmann::json::parse(R"([{"field":2}])"))),
               std::invalid_argument);
  // Absent or null members take their defaults.
  Error e = Error::from_json(with("message", nullptr));
  EXPECT_EQ(e.message, "");
  EXPECT_FALSE(e.retryable);
}

TEST(ErrorTest, FromExceptionKeepsCarriedError) {
  Error e{codes::kNotFound, "no such book", false};
  EXPECT_EQ(Error::from_exception(ErrorException(e)), e);
  Error internal = Error::from_exception(std::runtime_error("boom"));
  EXPECT_EQ(internal.code, codes::kInternal);
  EXPECT_EQ(internal.message, "boom");
}

TEST(ErrorTest, EveryCodeHasOneWireForm) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(Code::kInternal); ++i) {
    const auto code = static_cast<Code>(i);
    const std::string_view name = to_string(code);
    EXPECT_TRUE(names.insert(name).second) << name << " names two codes";
    EXPECT_EQ(parse_code(name), code) << name;
  }
  EXPECT_EQ(names.size(), 12u);
  EXPECT_EQ(to_string(codes::kNotFound), "not_found");
  EXPECT_EQ(parse_code("something_new"), std::nullopt);
  EXPECT_EQ(parse_code("NOT_FOUND"), std::nullopt);
  EXPECT_EQ(parse_code(""), std::nullopt);
  // In JSON a code is its wire form, never a number.
  EXPECT_EQ(nlohmann::json(codes::kCancelled), "cancelled");
  EXPECT_EQ((nlohmann::json{{"code", codes::kAborted}}).dump(), R"({"code":"aborted"})");
  EXPECT_EQ(nlohmann::json("not_found").get<Code>(), codes::kNotFound);
  EXPECT_THROW((void)nlohmann::json(3).get<Code>(), std::invalid_argument);
  // A code no component knows is malformed, not silently internal.
  EXPECT_THROW(Error::from_json(nlohmann::json{{"code", "something_new"}}), std::invalid_argument);
}

TEST(ErrorTest, NamedConstructors) {
  Error invalid = Error::invalid("invalid sign-up", {{"email", "not an address"}});
  EXPECT_EQ(invalid.code, codes::kInvalidArgument);
  EXPECT_FALSE(invalid.retryable);
  ASSERT_EQ(invalid.fields.size(), 1u);
  EXPECT_EQ(invalid.fields[0].field, "email");
  Error forced = Error::of(codes::kInternal, "x").with_retryable(true);
  EXPECT_TRUE(forced.retryable);
  EXPECT_EQ(std::string(ErrorException(Error::of(codes::kConflict, "taken")).what()),
            "conflict: taken");
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = 42;
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 42);
  Result<int> bad = Error::of(codes::kNotFound, "missing");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, codes::kNotFound);
  EXPECT_THROW((void)bad.value(), ErrorException);
}

}  // namespace
}  // namespace wonderland
