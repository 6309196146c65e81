// The one place where the customer service's PostgreSQL failures become error values.
//
//   Result<json> reply = customer::guarded(db, "customer.sign_up", [&]() -> Result<json> {
//     pqxx::work tx(db.connection());
//     ...
//   });
//
// Store operations and the idempotency store throw what libpqxx throws; the service's boundary
// (the command handler, the outbox flush) runs them through `guarded`, so that no database
// exception ever leaves a command, and a lost connection is dropped to be re-opened next time.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>

#include "database.hpp"
#include "wonderland/common/error.hpp"

namespace wonderland::customer {

/// Runs `body` and converts what it throws into an error value, logged with `operation` (the
/// command type, or what the caller was doing):
///   * ErrorException → its error;
///   * connection lost or refused, server shutting down, commit outcome unknown → `unavailable`
///     (retryable; the idempotency key makes the retry safe), and the connection is dropped so
///     that the next `db.connection()` opens a new one;
///   * serialization failure or deadlock → `aborted` (retryable);
///   * out of resources (too many connections, disk full) → `resource_exhausted` (retryable);
///   * any other SQL error or failure → `internal` (the details are logged, not returned).
Result<nlohmann::json> guarded(Database& db, std::string_view operation,
                               const std::function<Result<nlohmann::json>()>& body);

}  // namespace wonderland::customer
