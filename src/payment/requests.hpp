// Reading the payment commands' request bodies (private to the payment component): the field
// checks they share, and the charge request.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"

namespace wonderland::payment {

/// invalid_argument: the body is not a JSON object.
Error not_an_object();

/// Reads the UUID `key` of `body` into `out`, or records a field error.
void read_uuid(const nlohmann::json& body, const char* key, std::string& out,
               std::vector<FieldError>& fields);

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

/// Checks `{order_id}` (refund, get); invalid_argument otherwise.
Result<std::string> read_order_id(const nlohmann::json& body);

}  // namespace wonderland::payment
