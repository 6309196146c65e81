// An IdempotencyStore on PostgreSQL: the outcome of each command is stored under its
// idempotency key in the same transaction as the command's effects.
#pragma once

#include <string>

#include "database.hpp"
#include "wonderland/messaging/idempotency.hpp"

namespace wonderland::customer {

/// Keeps outcomes in table `idempotency(key PRIMARY KEY, reply jsonb, error jsonb, created_at)`
/// of the database's schema (created by the migrations).
///
/// `run_once` opens a transaction on `db` and claims the key by inserting its row (a placeholder
/// that never commits as such): a concurrent delivery of the same command waits on the primary
/// key instead of acting too, and once the first commits, finds its row. A recorded reply or
/// error is returned as it was. Otherwise it runs the effect with that transaction as the
/// database's ambient transaction, so that the effect's writes and the recorded outcome commit
/// together:
///   * success: the writes and the reply commit;
///   * final error: the transaction and the effect's writes are rolled back, and the error is
///     recorded in a second transaction (under a new claim, unless another delivery recorded
///     an outcome in between, which then stands), so the same key gets the same answer;
///   * retryable error: the writes are rolled back and nothing is recorded, so a retry acts anew.
/// An exception from the effect (other than ErrorException, which counts as its error) rolls
/// everything back and propagates; `guarded` turns it into an error value.
/// Not thread-safe: one store per Database, used by one thread at a time.
class PgIdempotencyStore : public messaging::IdempotencyStore {
 public:
  explicit PgIdempotencyStore(Database& db);
  Result<nlohmann::json> run_once(const std::string& key,
                                  const std::function<Result<nlohmann::json>()>& effect) override;
  /// Whether an outcome is recorded for `key` (for tests and diagnostics).
  bool has(const std::string& key);

 private:
  Database& db_;
};

}  // namespace wonderland::customer
