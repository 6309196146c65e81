// Secrets never leave the mediator in monitoring data, logs or events; and card data written by
// earlier versions is scrubbed from the journal.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace wonderland::mediator {

/// A copy of `value` in which, at any depth, `card_number` keeps only its last four digits,
/// `paypal_email` only the first character of its local part (`j***@example.com`), `expiry`
/// is removed, and `cvv`, `password`, `token` and `payment_token` are replaced by "[redacted]".
nlohmann::json redact(const nlohmann::json& value);
/// Appends the compact JSON text of redact(value) to `out`; copies `value` only when it holds
/// something to redact (most workflow events do not).
void append_redacted_json(std::string& out, const nlohmann::json& value);

/// The name under which the journal records that scrub_card_data ran (SqliteJournalOptions).
inline constexpr const char* kCardDataScrub = "card-data-v1";

/// Rewrites one journal record's data written before payments were tokenised; returns whether
/// it changed anything. A workflow input `{payment: {card_number|paypal_email, ...},
/// request_hash}` gets `request_hash = fingerprint(payment)` computed from the raw payment
/// first, so that an idempotent replay of the old order still matches. Then, at any depth, an
/// object carrying `card_number`, `cvv` or `paypal_email` keeps `card_number` masked to its
/// last four digits and `paypal_email` masked, and loses `cvv` and `expiry`.
bool scrub_card_data(nlohmann::json& data,
                     const std::function<std::string(const nlohmann::json& payment)>& fingerprint);

}  // namespace wonderland::mediator
