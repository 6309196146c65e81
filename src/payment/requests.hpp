// Reading the payment commands' request bodies (private to the payment component): the charge
// request, the partial refund request and the order id. The field checks shared with other
// services are in wonderland/common/request_fields.hpp.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "wonderland/common/error.hpp"

namespace wonderland::payment {

/// A payment.charge request, checked.
struct ChargeRequest {
  std::string order_id;
  std::string customer_id;
  std::int64_t amount_cents = 0;
  std::string token_hash;  ///< hex SHA-256 of the payment token
};

/// Checks `{order_id, customer_id, amount_cents, payment_token}`; invalid_argument naming every
/// wrong field.
Result<ChargeRequest> read_charge_request(const nlohmann::json& body);

/// A payment.refund_partial request, checked.
struct PartialRefundRequest {
  std::string order_id;
  std::string refund_id;  ///< 1..kMaxRefundIdLength characters
  std::int64_t amount_cents = 0;
};

/// Checks `{order_id, refund_id, amount_cents}`; invalid_argument naming every wrong field.
Result<PartialRefundRequest> read_partial_refund_request(const nlohmann::json& body);

/// Checks `{order_id}` (refund, get); invalid_argument otherwise.
Result<std::string> read_order_id(const nlohmann::json& body);

}  // namespace wonderland::payment
