// Lookups that several of the Store's operations share (store.hpp), each run in the caller's
// transaction.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "wonderland/common/error.hpp"

namespace wonderland::customer {

/// SQL that formats a timestamptz column as the project's ISO-8601 UTC form.
std::string iso(const std::string& column);

/// not_found "no customer with id <id>".
Error not_found(const std::string& customer_id);

/// The customer's Profile (protocol.hpp), or nullopt when there is no such customer.
std::optional<nlohmann::json> load_profile(pqxx::transaction_base& tx,
                                           const std::string& customer_id);

bool customer_exists(pqxx::transaction_base& tx, const std::string& customer_id);

/// Locks the customer's row for the rest of the transaction (serialises basket changes); false
/// when there is no such customer.
bool lock_customer(pqxx::transaction_base& tx, const std::string& customer_id);

/// Rows of (isbn, quantity) as basket lines `[{isbn, quantity}]`.
nlohmann::json basket_lines(const pqxx::result& rows);

/// The basket's lines `[{isbn, quantity}]` in the order titles were added.
nlohmann::json basket_items(pqxx::transaction_base& tx, const std::string& customer_id);

}  // namespace wonderland::customer
