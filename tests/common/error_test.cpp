#include "wonderland/common/error.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

TEST(ErrorTest, FromExceptionKeepsCarriedError) {
  Error e{codes::kNotFound, "no such book", false};
  EXPECT_EQ(Error::from_exception(ErrorException(e)), e);
  Error internal = Error::from_exception(std::runtime_error("boom"));
  EXPECT_EQ(internal.code, codes::kInternal);
  EXPECT_EQ(internal.message, "boom");
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
