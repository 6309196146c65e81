// Orders are purchase workflows: the order id is the workflow id, and an order's state is read
// from the workflow's journal.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/common/secret_key.hpp"
#include "wonderland/http/responder.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::mediator {

struct Context;

/// The order id for a customer's Idempotency-Key: a name-based UUID, the same on every retry.
std::string order_id_for(const std::string& customer_id, const std::string& idempotency_key);

/// The idempotency fingerprint of an order's payment request: HMAC-SHA256 under the server's
/// fingerprint key of the request's `payment` object (its compact JSON, keys sorted), as 64
/// hex digits. Keyed, so that it cannot be brute-forced back to a card without the key.
std::string order_fingerprint(const SecretKey& key, const nlohmann::json& payment);

/// Starts the purchase workflow for the caller and answers 202 with {order_id, status}.
/// `payment` is what the workflow may keep: `{token, method, masked, brand?, last4?}`, never
/// card data; `request_hash` is order_fingerprint of the request. The same key with the same
/// request answers the existing order; with another request, 422.
void place_order(Context& ctx, const nlohmann::json& profile, const nlohmann::json& payment,
                 const std::string& request_hash, const std::string& idempotency_key,
                 const http::Responder& responder);

/// `{order_id, status: pending|confirmed|failed, items, total_cents, reason?, created_at,
/// updated_at}`; not_found when the order does not exist or belongs to someone else. An order is
/// confirmed once its workflow is decided (its definition's pivot succeeded: from purchase v5 on,
/// once the stock is confirmed and the order recorded), while its announcement may still be on
/// its way, and stays confirmed should that announcement need an operator.
Result<nlohmann::json> order_view(const workflow::Engine& engine,
                                  const workflow::DefinitionRegistry& registry,
                                  const std::string& order_id, const std::string& customer_id);

}  // namespace wonderland::mediator
