// Hostile input against the running system: deeply nested JSON (200,000 and 10,000 levels, as
// the whole body, as a field value and inside the payment object), huge strings, too many
// values, bodies that are not objects and invalid UTF-8, on every route that reads a JSON body.
// Each gets a 4xx problem+json, and the mediator keeps answering /healthz after each; at the
// end a customer still signs in and nothing was ordered.
//
// The system is wonderland::testing::System (tests/support), as in bookstore_e2etest.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/system.hpp"
#include "wonderland/testing/system_suite.hpp"

namespace {

using nlohmann::json;
using wonderland::testing::HttpClient;
using wonderland::testing::HttpResponse;
using wonderland::testing::System;
using wonderland::testing::SystemSuite;

constexpr char kAdminToken[] = "hostile-operator-token-5e1f";
constexpr char kPassword[] = "correct horse battery";
const wonderland::testing::CatalogueBook kBook{"9780000000996", "Hostile Input", 1000, 100};

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

/// {"a":{"a":...{"a":0}...}}
std::string nested_objects(std::size_t depth) {
  std::string s;
  s.reserve(depth * 6 + 1);
  for (std::size_t i = 0; i < depth; ++i)
    s += "{\"a\":";
  s += "0";
  s.append(depth, '}');
  return s;
}

std::string future_expiry() {
  return "12/39";
}

class HostileE2e : public SystemSuite<HostileE2e> {
 protected:
  static void SetUpTestSuite() {
    start_system({.work_dir = WONDERLAND_E2E_WORK_DIR,
                  .catalogue = {kBook},
                  .admin_token = kAdminToken,
                  .tag = "hostile"});
  }

  static void TearDownTestSuite() { stop_system(); }

  /// A signed-in customer with the test book in the basket.
  std::string shopper() {
    std::string username = "hostile_" + wonderland::fast_random_hex(4);
    HttpResponse r = http().post_json("/api/customers", json{{"username", username},
                                                             {"email", username + "@example.com"},
                                                             {"password", kPassword},
                                                             {"first_name", "Mallory"},
                                                             {"last_name", "Hostile"}});
    if (r.status != 201)
      throw std::runtime_error("sign-up: " + describe(r));
    r = http().post_json("/api/sessions", json{{"username", username}, {"password", kPassword}});
    if (r.status != 201)
      throw std::runtime_error("sign-in: " + describe(r));
    std::string token = r.json().value("token", "");
    r = http().put_json(std::string("/api/basket/items/") + kBook.isbn, json{{"quantity", 1}},
                        token);
    if (r.status != 200)
      throw std::runtime_error("basket: " + describe(r));
    return token;
  }

  /// Sends `body` raw; expects a 4xx problem+json (and, when given, `detail` in its detail),
  /// then a live /healthz. A fresh connection each time: the server may close after a 4xx.
  void expect_refused(const std::string& method, const std::string& target, const std::string& body,
                      const std::string& token, const std::string& detail = {},
                      std::map<std::string, std::string> headers = {}) {
    SCOPED_TRACE(method + " " + target + " with " + std::to_string(body.size()) + " bytes");
    headers.emplace("Content-Type", "application/json");
    if (!token.empty())
      headers.emplace("Authorization", "Bearer " + token);
    HttpClient client(store_->port());
    HttpResponse r = client.request(method, target, body, headers);
    EXPECT_GE(r.status, 400) << describe(r);
    EXPECT_LT(r.status, 500) << describe(r);
    EXPECT_EQ(r.header("content-type").rfind("application/problem+json", 0), 0u) << describe(r);
    if (!detail.empty()) {
      EXPECT_NE(r.json().value("detail", "").find(detail), std::string::npos) << describe(r);
    }
    ++refused_;
    expect_alive();
  }

  void expect_alive() {
    HttpClient client(store_->port());
    HttpResponse h = client.get("/healthz");
    ASSERT_EQ(h.status, 200) << "the mediator stopped answering: " << describe(h);
  }

  int refused_ = 0;
};

constexpr char kDepth[] = "nesting depth exceeds the limit of 64";

TEST_F(HostileE2e, DeeplyNestedPaymentIsRefusedAndNothingIsOrdered) {
  const std::string token = shopper();
  for (std::size_t depth : {200'000u, 10'000u, 65u}) {
    std::string body = R"({"payment":{"method":"visa","card_number":"4242 4242 4242 4242",)"
                       R"("expiry":")" +
                       future_expiry() + R"(","cvv":"123","x":)" + nested_arrays(depth) + "}}";
    expect_refused("POST", "/api/orders", body, token, kDepth,
                   {{"Idempotency-Key", wonderland::new_uuid()}});
  }
  // Within the depth limit, an unknown key in the payment object is refused all the same.
  std::string junk = R"({"payment":{"method":"visa","card_number":"4242 4242 4242 4242",)"
                     R"("expiry":")" +
                     future_expiry() + R"(","cvv":"123","x":)" + nested_arrays(60) + "}}";
  expect_refused("POST", "/api/orders", junk, token, {},
                 {{"Idempotency-Key", wonderland::new_uuid()}});

  HttpResponse orders = http().get("/api/orders", token);
  ASSERT_EQ(orders.status, 200) << describe(orders);
  EXPECT_TRUE(orders.json().value("items", json::array()).empty()) << describe(orders);
}

TEST_F(HostileE2e, DeepNestingIsRefusedOnEveryJsonRoute) {
  const std::string token = shopper();
  struct Route {
    std::string method;
    std::string target;
    std::string field;  // a field the route reads
    std::string token;
  };
  const std::vector<Route> routes{
      {"POST", "/api/customers", "username", ""},
      {"POST", "/api/sessions", "password", ""},
      {"PUT", std::string("/api/basket/items/") + kBook.isbn, "quantity", token},
      {"POST", "/api/orders", "payment", token},
      {"POST", "/api/workflows", "input", kAdminToken},
      {"POST", "/api/workflows/" + wonderland::new_uuid() + "/cancel", "reason", kAdminToken},
  };
  const std::vector<std::pair<std::string, std::string>> shapes{
      {"200,000 nested arrays", nested_arrays(200'000)},
      {"10,000 nested arrays", nested_arrays(10'000)},
      {"100,000 nested objects", nested_objects(100'000)},
      {"65 nested arrays", nested_arrays(65)},
  };
  for (const Route& route : routes) {
    for (const auto& [name, nested] : shapes) {
      SCOPED_TRACE(name);
      // As the whole body, and as a field's value.
      expect_refused(route.method, route.target, nested, route.token, kDepth,
                     {{"Idempotency-Key", wonderland::new_uuid()}});
      expect_refused(route.method, route.target, R"({")" + route.field + R"(":)" + nested + "}",
                     route.token, kDepth, {{"Idempotency-Key", wonderland::new_uuid()}});
    }
  }
  std::cout << "[ hostile  ] " << refused_ << " nested bodies refused on " << routes.size()
            << " routes; the mediator answered /healthz after each\n";
}

TEST_F(HostileE2e, HugeStringsManyValuesAndMalformedBodiesAreRefused) {
  const std::string token = shopper();
  auto sign_up = [](const std::string& username) {
    return json{{"username", username},
                {"email", "huge@example.com"},
                {"password", kPassword},
                {"first_name", "Huge"},
                {"last_name", "String"}}
        .dump();
  };
  // A string over 64 KiB, and one close to the 1 MiB body limit.
  expect_refused("POST", "/api/customers", sign_up(std::string(70'000, 'a')), "",
                 "a string of 70000 bytes exceeds the limit of 65536 bytes");
  expect_refused("POST", "/api/customers", sign_up(std::string(1'000'000, 'a')), "",
                 "exceeds the limit of 65536 bytes");
  // A member name over the limit.
  expect_refused("POST", "/api/sessions",
                 "{\"" + std::string(100'000, 'k') + "\":1,\"username\":\"u\",\"password\":\"p\"}",
                 "", "exceeds the limit of 65536 bytes");
  // Over the body limit altogether.
  expect_refused("POST", "/api/customers", sign_up(std::string(2'000'000, 'a')), "");
  // 200,000 values in one array.
  std::string many = "{\"payment\":[";
  for (int i = 0; i < 200'000; ++i)
    many += i == 0 ? "0" : ",0";
  many += "]}";
  expect_refused("POST", "/api/orders", many, token, "number of values exceeds the limit of 100000",
                 {{"Idempotency-Key", wonderland::new_uuid()}});
  // Bodies that are not JSON objects.
  for (std::string body : {"[]", "42", "\"text\"", "null", "true", "", "   ", "{", "{\"a\":1}x"}) {
    expect_refused("POST", "/api/sessions", body, "");
    expect_refused("POST", "/api/workflows", body, kAdminToken);
  }
  // Invalid UTF-8 (a lone continuation byte, an overlong '/', a surrogate).
  for (std::string bad : {"\x80", "\xC0\xAF", "\xED\xA0\x80"}) {
    expect_refused("POST", "/api/sessions",
                   "{\"username\":\"a" + bad + "\",\"password\":\"" + kPassword + "\"}", "");
  }
  // Still serving: sign-in works and nothing was ordered.
  HttpResponse orders = http().get("/api/orders", token);
  ASSERT_EQ(orders.status, 200) << describe(orders);
  EXPECT_TRUE(orders.json().value("items", json::array()).empty()) << describe(orders);
}

}  // namespace
