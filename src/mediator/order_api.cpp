// The order routes: placing an order (payment details to the payment service, then the
// purchase workflow), one order with an optional long poll, and the caller's order history.
#include <atomic>
#include <cctype>
#include <chrono>
#include <string>
#include <utility>

#include "routes.hpp"
#include "wonderland/customer/protocol.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/mediator/orders.hpp"
#include "wonderland/payment/protocol.hpp"

namespace wonderland::mediator {
namespace {

/// Order placement per customer: answers 429 and returns true when the customer is over the rate.
bool order_throttled(Context& ctx, const Json& profile, const Responder& r) {
  const std::string customer_id = profile.value("customer_id", "");
  Verdict v = ctx.throttles->orders->acquire(customer_id);
  if (v.allowed)
    return false;
  ctx.throttles->refused_orders.fetch_add(1, std::memory_order_relaxed);
  r.respond(
      too_many(v, "too many orders placed in a short time; try again later", r.request().path()));
  return true;
}

/// Checks the order's `payment` object into `f` (as `payment.<field>` errors).
void check_payment(const Json& payment, http::JsonFields& f) {
  http::JsonFields p(payment);
  p.required_string("method", {1, 20});
  p.optional_string("card_number", {0, 40});
  p.optional_string("expiry", {0, 10});
  p.optional_string("cvv", {0, 10});
  p.optional_string("paypal_email", {0, 320});
  for (const auto& e : p.errors())
    f.add("payment." + e.field, e.message);
  for (auto it = payment.begin(); it != payment.end(); ++it) {
    const std::string& k = it.key();
    if (k == "method" || k == "card_number" || k == "expiry" || k == "cvv" || k == "paypal_email")
      continue;
    // The key is named back only when short and plain, so that hostile input is not echoed.
    bool plain = !k.empty() && k.size() <= 40;
    for (char c : k)
      plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
    f.add(plain ? "payment." + k : std::string("payment"),
          plain ? "is not a known field" : "has an unknown field");
  }
}

/// Hands the card data to the payment service only, then places the order with what the
/// workflow may keep: the payment token, the masked number and a keyed fingerprint.
void tokenize_and_place(Context& ctx, const Json& profile, Json payment,
                        const std::string& idempotency_key, const Responder& r) {
  std::string request_hash = order_fingerprint(*ctx.config.fingerprint_key, payment);
  ctx.call(payment::kService, payment::commands::kTokenize,
           Json{{"customer_id", profile.value("customer_id", "")}, {"payment", std::move(payment)}},
           [&ctx, r, request_hash, idempotency_key, profile](Result<Json> tokenized) {
             if (!tokenized.ok())
               return void(r.respond(tokenized.error()));
             const Json& t = tokenized.value();
             Json kept{{"token", t.value("payment_token", "")},
                       {"method", t.value("method", "")},
                       {"masked", t.value("masked", "")}};
             if (t.contains("brand"))
               kept["brand"] = t["brand"];
             if (t.contains("last4"))
               kept["last4"] = t["last4"];
             place_order(ctx, profile, kept, request_hash, idempotency_key, r);
           });
}

/// POST /api/orders for a signed-in caller.
void post_order(Context& ctx, const Json& profile, const Responder& r) {
  if (order_throttled(ctx, profile, r))
    return;
  const Request& request = r.request();
  auto key = request.header("Idempotency-Key");
  auto body = request.json_object();
  if (!body.ok())
    return void(r.respond(body.error()));
  http::JsonFields f(body.value());
  Json payment = f.required_object("payment");
  if (payment.is_object())
    check_payment(payment, f);
  if (!key || key->empty() || key->size() > 200) {
    f.add("Idempotency-Key", "header is required (1-200 characters), e.g. a UUID per checkout");
  }
  if (!f.ok())
    return void(r.respond(f.response(request.path())));
  tokenize_and_place(ctx, profile, std::move(payment), std::string(*key), r);
}

/// GET /api/orders/{id} for a signed-in caller. ?wait_ms=N (up to 30 s) makes it a long poll:
/// a pending order is answered once it is confirmed or failed, or after N ms with its status
/// then.
void get_order(Context& ctx, const std::string& id, const Json& profile, const Responder& r) {
  http::QueryFields q(r.request());
  const auto wait_ms = q.optional_integer("wait_ms", {0, 30000}).value_or(0);
  if (!q.ok())
    return void(r.respond(q.response(r.request().path())));
  std::string customer_id = profile.value("customer_id", "");
  auto order = order_view(ctx.engine, ctx.registry, id, customer_id);
  if (!order.ok())
    return void(r.respond(order.error()));
  if (wait_ms == 0 || order.value().value("status", "") != "pending") {
    return void(r.respond(Response::json(order.value())));
  }
  ctx.waiters->wait(id, std::chrono::milliseconds(wait_ms), [&ctx, r, id, customer_id] {
    auto now = order_view(ctx.engine, ctx.registry, id, customer_id);
    if (!now.ok())
      return void(r.respond(now.error()));
    r.respond(Response::json(now.value()));
  });
  // It may have settled between the look above and the registration. (Had it only been decided
  // in between, the waiter wakes when the workflow settles, moments later, or at its timeout:
  // the summary is one indexed row, the decision a read of the whole timeline.)
  auto summary = ctx.engine.find(id);
  if (summary.ok() && summary.value() &&
      summary.value()->status != workflow::WorkflowStatus::kRunning) {
    ctx.waiters->settle_now(id);
  }
}

}  // namespace

void install_order_routes(Context& ctx, http::Router& router) {
  router.add_async(Method::post, "/api/orders", [&ctx](const Request& req, const Responder& r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) { post_order(ctx, profile, r); });
  });
  router.add_async(Method::get, "/api/orders/{id}", [&ctx](const Request& req, const Responder& r) {
    std::string id(*req.param("id"));
    with_customer(ctx, req, r,
                  [&ctx, r, id](const Json& profile) { get_order(ctx, id, profile, r); });
  });
  router.add_async(Method::get, "/api/orders", [&ctx](const Request& req, const Responder& r) {
    with_customer(ctx, req, r, [&ctx, r](const Json& profile) {
      ctx.call(customer::kService, customer::commands::kListOrders,
               Json{{"customer_id", profile.value("customer_id", "")}}, reply_with(r));
    });
  });
}

}  // namespace wonderland::mediator
