// Returns are `return` workflows: the return id is the workflow id, and a return's state is read
// from the workflow's journal (the customer service keeps the returns of each order line).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::mediator {

/// The return id of a customer's return of `lines` ([{isbn, quantity}]) of an order: a
/// name-based UUID of the three, the lines sorted by ISBN, so that a retried request names the
/// same return and a different one a new return.
std::string return_id_for(const std::string& customer_id, const std::string& order_id,
                          const nlohmann::json& lines);

/// The `return` workflow's input: the return and the customer (from `profile`), the lines as
/// the customer service checked them (`checked`: {lines, refund_cents}), and the parcel's
/// deadline, `parcel_timeout` from `now`.
nlohmann::json return_input(const std::string& return_id, const std::string& order_id,
                            const nlohmann::json& profile, const nlohmann::json& checked,
                            std::chrono::milliseconds parcel_timeout,
                            std::chrono::system_clock::time_point now);

/// `{return_id, order_id, status, lines, refund_cents, parcel_deadline, reason?, created_at,
/// updated_at}`, where status is `awaiting_parcel` (recorded or being recorded, the parcel not
/// received yet), `refunding` (received; restocking and refunding), `refunded`, `expired` (the
/// parcel did not arrive in time) or `failed` (with the reason); not_found when the return does
/// not exist or belongs to someone else.
Result<nlohmann::json> return_view(const workflow::Engine& engine, const std::string& return_id,
                                   const std::string& customer_id);

}  // namespace wonderland::mediator
