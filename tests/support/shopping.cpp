#include "wonderland/testing/shopping.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <stdexcept>
#include <thread>

#include "wonderland/common/ids.hpp"

namespace wonderland::testing {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

Shopper sign_up(HttpClient& http, const std::string& tag) {
  Shopper s;
  s.username = "e2e_" + tag + "_" + fast_random_hex(4);
  s.email = s.username + "@example.com";
  HttpResponse r = http.post_json("/api/customers", json{{"username", s.username},
                                                         {"email", s.email},
                                                         {"password", kShopperPassword},
                                                         {"first_name", "Test"},
                                                         {"last_name", "Shopper " + tag}});
  if (r.status != 201)
    throw std::runtime_error("sign-up of " + s.username + ": " + describe(r));
  r = http.post_json("/api/sessions",
                     json{{"username", s.username}, {"password", kShopperPassword}});
  if (r.status != 201)
    throw std::runtime_error("sign-in of " + s.username + ": " + describe(r));
  s.token = r.json().value("token", "");
  s.customer_id = r.json().value("customer_id", "");
  if (s.token.empty() || s.customer_id.empty())
    throw std::runtime_error("session without token: " + describe(r));
  return s;
}

json card(const std::string& method, const std::string& number) {
  // An expiry a few years ahead ("12/29"), valid whatever today's date.
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  int yy = (utc.tm_year + 1900 + 3) % 100;
  std::string expiry = std::string("12/") + (yy < 10 ? "0" : "") + std::to_string(yy);
  return json{{"method", method}, {"card_number", number}, {"expiry", expiry}, {"cvv", "123"}};
}
json good_visa() {
  return card("visa", "4242 4242 4242 4242");
}
json declined_visa() {
  return card("visa", "4000 0000 0000 0002");
}
json good_mastercard() {
  return card("mastercard", "5555 5555 5555 4444");
}

HttpResponse set_basket(HttpClient& http, const Shopper& s, const std::string& isbn, int quantity) {
  return http.put_json("/api/basket/items/" + isbn, json{{"quantity", quantity}}, s.token);
}

HttpResponse place_order(HttpClient& http, const Shopper& s, const std::string& key,
                         const json& payment) {
  return http.post_json("/api/orders", json{{"payment", payment}}, s.token,
                        {{"Idempotency-Key", key}});
}

bool settled(const json& order) {
  std::string status = order.value("status", "");
  return status == "confirmed" || status == "failed";
}

json await_order(HttpClient& http, const Shopper& s, const std::string& id,
                 std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  json last;
  while (Clock::now() < deadline) {
    try {
      HttpResponse r = http.get("/api/orders/" + id + "?wait_ms=5000", s.token);
      if (r.status == 200) {
        last = r.json();
        if (settled(last))
          return last;
        continue;  // the wait ran out: ask again at once
      } else if (r.status < 500) {
        throw std::runtime_error("GET /api/orders/" + id + ": " + describe(r));
      }
    } catch (const std::runtime_error&) {
      throw;
    } catch (const std::exception&) {
      // A dropped connection: poll again.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  return last;
}

bool is_problem(const HttpResponse& r) {
  return r.header("content-type").rfind("application/problem+json", 0) == 0;
}

void expect_problem(const HttpResponse& r, int status, const std::string& field) {
  EXPECT_EQ(r.status, status) << describe(r);
  EXPECT_TRUE(is_problem(r)) << "content-type '" << r.header("content-type")
                             << "': " << describe(r);
  json p = r.json();
  ASSERT_TRUE(p.is_object()) << describe(r);
  EXPECT_EQ(p.value("status", 0), status) << describe(r);
  EXPECT_FALSE(p.value("code", "").empty()) << describe(r);
  EXPECT_FALSE(p.value("title", "").empty() && p.value("detail", "").empty()) << describe(r);
  if (!field.empty()) {
    bool named = false;
    for (const auto& e : p.value("errors", json::array()))
      named = named || e.value("field", "") == field;
    EXPECT_TRUE(named) << "no error for field '" << field << "': " << describe(r);
  }
}

}  // namespace wonderland::testing
