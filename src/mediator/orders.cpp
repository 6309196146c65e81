#include "wonderland/mediator/orders.hpp"

#include <sodium.h>

#include "context.hpp"
#include "wonderland/http/response.hpp"

namespace wonderland::mediator {
namespace {

Error no_such_order(const std::string& id) {
  return Error::of(codes::kNotFound, "no order '" + id + "'");
}

const char* customer_status(workflow::WorkflowStatus s, bool decided) {
  if (decided)
    return "confirmed";
  switch (s) {
    case workflow::WorkflowStatus::kRunning:
      return "pending";
    case workflow::WorkflowStatus::kCompleted:
      return "confirmed";
    default:
      return "failed";
  }
}

}  // namespace

Result<nlohmann::json> order_view(const workflow::Engine& engine,
                                  const workflow::DefinitionRegistry& registry,
                                  const std::string& order_id, const std::string& customer_id) {
  // One read of the journal: the order view is read once or twice per order and every long poll.
  auto history = engine.history(order_id);
  if (!history.ok()) {
    return history.error().code == codes::kNotFound ? no_such_order(order_id) : history.error();
  }
  const auto& s = history.value().summary;
  if (s.definition != "purchase")
    return no_such_order(order_id);
  const auto& recs = history.value().records;
  if (recs.empty() ||
      recs.front().data.value("input", nlohmann::json::object()).value("customer_id", "") !=
          customer_id) {
    return no_such_order(order_id);  // someone else's order is not even acknowledged
  }
  const auto def = registry.find(s.definition, s.version);
  const bool decided = def && workflow::is_decided(*def, recs);
  nlohmann::json view{{"order_id", order_id},
                      {"status", customer_status(s.status, decided)},
                      {"items", nlohmann::json::array()},
                      {"total_cents", 0},
                      {"created_at", s.created_at},
                      {"updated_at", s.updated_at.empty() ? s.created_at : s.updated_at}};
  std::string customer_reason;
  bool priced = false;  // purchase v1 and v2 price in a step of their own, v3 in the reservation
  for (const auto& r : recs) {
    if (auto f = r.data.find("failure"); f != r.data.end() && f->is_object()) {
      // The failing service's own words ("Your card was declined") rather than the step's.
      std::string message = f->value("message", "");
      if (!message.empty())
        customer_reason = message;
    }
    if (r.type == workflow::events::kStepSucceeded &&
        (r.step == "price" || (r.step == "reserve" && !priced))) {
      // v1 and v2 charged the price step's total: it wins over the reservation's.
      priced = r.step == "price";
      auto out = r.data.find("output");
      if (out == r.data.end() || !out->is_object())
        continue;
      view["items"] = out->value("items", nlohmann::json::array());
      view["total_cents"] = out->value("total_cents", 0);
    }
  }
  if (!decided && s.status != workflow::WorkflowStatus::kRunning &&
      s.status != workflow::WorkflowStatus::kCompleted) {
    view["reason"] = !customer_reason.empty() ? customer_reason
                     : !s.reason.empty()      ? s.reason
                                              : "The order could not be completed.";
  }
  return view;
}

std::string order_fingerprint(const SecretKey& key, const nlohmann::json& payment) {
  static_assert(SecretKey::kSize == crypto_auth_hmacsha256_KEYBYTES);
  const std::string text = payment.dump();
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                         key.data());
  char hex[2 * sizeof mac + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return hex;
}

void place_order(Context& ctx, const nlohmann::json& profile, const nlohmann::json& payment,
                 const std::string& request_hash, const std::string& idempotency_key,
                 const http::Responder& r) {
  std::string customer_id = profile.value("customer_id", "");
  std::string id = order_id_for(customer_id, idempotency_key);
  nlohmann::json input{{"customer_id", customer_id},
                       {"email", profile.value("email", "")},
                       {"first_name", profile.value("first_name", "")},
                       {"last_name", profile.value("last_name", "")},
                       {"payment", payment},
                       {"request_hash", request_hash}};
  auto accepted = [r, id](const std::string& status) {
    http::Response response = http::Response::json(
        nlohmann::json{{"order_id", id}, {"status", status}}, http::StatusCode::accepted);
    response.header("Location", "/api/orders/" + id);
    r.respond(std::move(response));
  };
  workflow::StartRequest start;
  start.definition = "purchase";
  start.input = std::move(input);
  start.id = id;
  ctx.engine.start(std::move(start), [&ctx, r, id, customer_id, request_hash,
                                      accepted](const Result<std::string>& started) {
    if (started.ok())
      return accepted("pending");
    if (started.error().code != codes::kConflict)
      return void(r.respond(started.error()));
    // The key was used before: the same request gets the same order, another one is refused.
    auto records = ctx.engine.timeline(id);
    if (!records.ok())
      return void(r.respond(records.error()));
    if (records.value().empty()) {
      // The same key arrived twice at once and the first start is not durable yet.
      return void(r.respond(
          Error::of(codes::kAborted,
                    "an order with this Idempotency-Key is being placed; retry the request")));
    }
    const auto& first = records.value().front().data.value("input", nlohmann::json::object());
    if (first.value("customer_id", "") != customer_id ||
        first.value("request_hash", "") != request_hash) {
      // 422: the request is well-formed, but the key already names a different one.
      http::Problem problem = http::Problem::from_error(
          Error::of(
              codes::kFailedPrecondition,
              "this Idempotency-Key was already used for a different order request; use a new key"),
          r.request().path());
      problem.status = http::StatusCode::unprocessable_entity;
      return void(r.respond(http::Response::problem(problem)));
    }
    auto view = order_view(ctx.engine, ctx.registry, id, customer_id);
    accepted(view.ok() ? view.value().value("status", "pending") : "pending");
  });
}

}  // namespace wonderland::mediator
