// A customer of the bookstore for end-to-end tests, over the mediator's public HTTP API: sign up
// and in, fill the basket, place an order and follow it until it settles, and check problems.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "wonderland/testing/http_client.hpp"

namespace wonderland::testing {

/// The password of every test shopper.
inline constexpr char kShopperPassword[] = "correct horse battery";

struct Shopper {
  std::string username;
  std::string email;
  std::string customer_id;
  std::string token;
};

/// Signs a new customer up (a username from `tag` and random digits) and in; throws with the
/// response on failure.
Shopper sign_up(HttpClient& http, const std::string& tag);

/// A card of `method` and `number`, with an expiry a few years ahead and a CVV.
nlohmann::json card(const std::string& method, const std::string& number);
nlohmann::json good_visa();
nlohmann::json declined_visa();
nlohmann::json good_mastercard();

/// PUT /api/basket/items/{isbn} with the quantity.
HttpResponse set_basket(HttpClient& http, const Shopper& s, const std::string& isbn, int quantity);
/// POST /api/orders with the payment and the Idempotency-Key.
HttpResponse place_order(HttpClient& http, const Shopper& s, const std::string& key,
                         const nlohmann::json& payment);
/// Whether an order view is confirmed or failed.
bool settled(const nlohmann::json& order);
/// Long-polls GET /api/orders/{id}?wait_ms= until the order is confirmed or failed (or the time
/// is up); returns the last view ({} when none was read). Transient 5xx answers are polled
/// through; another error throws.
nlohmann::json await_order(HttpClient& http, const Shopper& s, const std::string& id,
                           std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// Whether `r` has an application/problem+json body.
bool is_problem(const HttpResponse& r);
/// Checks (gtest EXPECTs) that `r` is an RFC 9457 problem with `status` and, when given, an
/// error for `field`.
void expect_problem(const HttpResponse& r, int status, const std::string& field = {});

}  // namespace wonderland::testing
