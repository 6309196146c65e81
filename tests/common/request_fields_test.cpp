#include "wonderland/common/request_fields.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace wonderland {
namespace {

using nlohmann::json;

TEST(RequestFieldsTest, DescribesEveryFieldInOrder) {
  EXPECT_EQ(describe_fields({}), "");
  EXPECT_EQ(describe_fields({{"a", "is required"}}), "a is required");
  EXPECT_EQ(describe_fields({{"a", "is required"}, {"b", "must be a UUID"}}),
            "a is required; b must be a UUID");
}

TEST(RequestFieldsTest, InvalidFieldsNamesThemInAnInvalidArgument) {
  std::vector<FieldError> fields = {{"order_id", "must be a UUID"}, {"amount_cents", "is wrong"}};
  Error e = invalid_fields(fields);
  EXPECT_EQ(e.code, codes::kInvalidArgument);
  EXPECT_FALSE(e.retryable);
  EXPECT_EQ(e.message, "invalid request: order_id must be a UUID; amount_cents is wrong");
  EXPECT_EQ(e.fields, fields);
  EXPECT_EQ(invalid_fields({}).message, "invalid request");
}

TEST(RequestFieldsTest, NotAnObjectIsAnInvalidArgument) {
  Error e = not_an_object();
  EXPECT_EQ(e.code, codes::kInvalidArgument);
  EXPECT_EQ(e.message, "the request body must be a JSON object");
  EXPECT_TRUE(e.fields.empty());
}

TEST(RequestFieldsTest, ReadsAUuid) {
  const std::string id = "123e4567-e89b-42d3-a456-426614174000";
  std::vector<FieldError> fields;
  std::string out;
  read_uuid(json{{"order_id", id}}, "order_id", out, fields);
  EXPECT_EQ(out, id);
  EXPECT_TRUE(fields.empty());
}

TEST(RequestFieldsTest, RecordsAMissingOrMalformedUuid) {
  std::vector<FieldError> fields;
  std::string out = "unchanged";
  read_uuid(json::object(), "order_id", out, fields);
  read_uuid(json{{"order_id", 42}}, "order_id", out, fields);
  read_uuid(json{{"customer_id", "not-a-uuid"}}, "customer_id", out, fields);
  EXPECT_EQ(out, "unchanged");
  const std::vector<FieldError> expected = {{"order_id", "must be a UUID"},
                                            {"order_id", "must be a UUID"},
                                            {"customer_id", "must be a UUID"}};
  EXPECT_EQ(fields, expected);
}

}  // namespace
}  // namespace wonderland
