#include "wonderland/http/fields.hpp"

#include <gtest/gtest.h>

namespace wonderland::http {
namespace {

Request make_request(std::string target, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
  RawRequest raw(Method::post, target, 11);
  for (const auto& [k, v] : headers)
    raw.set(k, v);
  raw.body() = std::move(body);
  std::string path = target.substr(0, target.find('?'));
  QueryParams q;
  if (auto p = target.find('?'); p != std::string::npos)
    q = *parse_query(target.substr(p + 1));
  return Request(std::move(raw), path, std::move(q));
}

TEST(JsonBody, ExplainsWhatIsWrong) {
  auto empty = make_request("/x").json_object();
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, codes::kInvalidArgument);
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos);

  auto bad = make_request("/x", R"({"title": )").json_object();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("request body is not valid JSON: ", 0), 0u)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("line 1"), std::string::npos) << bad.error().message;
  EXPECT_EQ(bad.error().message.find("[json.exception"), std::string::npos);

  auto array = make_request("/x", "[1,2]").json_object();
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.error().message, "request body must be a JSON object, got an array");

  auto ok = make_request("/x", R"({"a":1})").json_object();
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"], 1);
}

TEST(BearerToken, ParsesTheAuthorizationHeader) {
  EXPECT_EQ(make_request("/", "", {{"Authorization", "Bearer abc.DEF-123_~+/=="}}).bearer_token(),
            "abc.DEF-123_~+/==");
  EXPECT_EQ(make_request("/", "", {{"Authorization", "bearer   tok  "}}).bearer_token(), "tok");
  EXPECT_FALSE(make_request("/", "", {{"Authorization", "Basic dXNlcjpwdw=="}}).bearer_token());
  EXPECT_FALSE(make_request("/", "", {{"Authorization", "Bearer"}}).bearer_token());
  EXPECT_FALSE(make_request("/", "", {{"Authorization", "Bearer "}}).bearer_token());
  EXPECT_FALSE(make_request("/", "", {{"Authorization", "Bearer a b"}}).bearer_token());
  EXPECT_FALSE(make_request("/", "", {{"Authorization", "Bearertok"}}).bearer_token());
  EXPECT_FALSE(make_request("/").bearer_token());
}

TEST(JsonFields, CollectsEveryError) {
  auto body = nlohmann::json::parse(R"({
    "isbn": "978", "title": 5, "quantity": 0, "price": "x", "gift": "yes",
    "tags": ["a", 3, ""], "note": null, "count": 3.0, "big": 18446744073709551615
  })");
  JsonFields f(body);
  EXPECT_EQ(f.required_string("isbn", {.min_length = 10}), "");
  EXPECT_EQ(f.required_string("title"), "");
  EXPECT_EQ(f.required_integer("quantity", {.min = 1, .max = 100}), 0);
  EXPECT_EQ(f.required_number("price"), 0);
  EXPECT_FALSE(f.optional_bool("gift"));
  EXPECT_EQ(f.string_array("tags", false, {.min_length = 1}), std::vector<std::string>{"a"});
  EXPECT_FALSE(f.optional_string("note"));    // null counts as absent, no error
  EXPECT_EQ(f.required_integer("count"), 3);  // 3.0 is an integer
  EXPECT_FALSE(f.optional_integer("big"));
  EXPECT_EQ(f.required_string("author"), "");
  ASSERT_FALSE(f.ok());
  std::vector<FieldError> want = {
      {"isbn", "must be at least 10 characters"},
      {"title", "must be a string"},
      {"quantity", "must be an integer between 1 and 100"},
      {"price", "must be a number"},
      {"gift", "must be true or false"},
      {"tags[1]", "must be a string"},
      {"tags[2]", "must not be empty"},
      {"big", "must be an integer"},
      {"author", "is required"},
  };
  EXPECT_EQ(f.errors(), want);
  auto r = f.response("/api/orders");
  EXPECT_EQ(r.status(), StatusCode::bad_request);
  auto j = nlohmann::json::parse(r.body());
  EXPECT_EQ(j["errors"].size(), want.size());
  EXPECT_EQ(j["errors"][0]["field"], "isbn");
  EXPECT_EQ(j["instance"], "/api/orders");
  EXPECT_NE(j["detail"].get<std::string>().find("isbn"), std::string::npos);
}

TEST(JsonFields, ValidInputHasNoErrors) {
  auto body = nlohmann::json::parse(R"({"isbn":"9780141439761","quantity":2,"gift":true,"x":{}})");
  JsonFields f(body);
  EXPECT_EQ(f.required_string("isbn", {.min_length = 10, .max_length = 17}), "9780141439761");
  EXPECT_EQ(f.required_integer("quantity", {.min = 1}), 2);
  EXPECT_EQ(f.optional_bool("gift"), true);
  EXPECT_EQ(f.optional_string("note"), std::nullopt);
  EXPECT_TRUE(f.required_object("x").is_object());
  EXPECT_TRUE(f.ok());
}

TEST(QueryFields, ParsesAndValidates) {
  auto req = make_request("/x?limit=500&page=abc&q=a+b&verbose&sort=");
  QueryFields q(req);
  EXPECT_EQ(q.optional_integer("limit", {.min = 1, .max = 100}), std::nullopt);
  EXPECT_EQ(q.optional_integer("page"), std::nullopt);
  EXPECT_EQ(q.required_string("q"), "a b");
  EXPECT_EQ(q.optional_bool("verbose"), true);
  EXPECT_EQ(q.optional_string("sort", {.min_length = 1}), std::nullopt);
  EXPECT_EQ(q.required_integer("size"), 0);
  std::vector<FieldError> want = {{"limit", "must be an integer between 1 and 100"},
                                  {"page", "must be an integer"},
                                  {"sort", "must not be empty"},
                                  {"size", "is required"}};
  EXPECT_EQ(q.errors(), want);
  auto ok = make_request("/x?limit=20");
  QueryFields q2(ok);
  EXPECT_EQ(q2.optional_integer("limit", {.min = 1, .max = 100}), 20);
  EXPECT_TRUE(q2.ok());
}

}  // namespace
}  // namespace wonderland::http
