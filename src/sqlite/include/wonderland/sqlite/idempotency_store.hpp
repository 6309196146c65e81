// An IdempotencyStore on SQLite: the outcome of each command is stored under its idempotency
// key in the same transaction as the command's effects.
#pragma once

#include <mutex>

#include "wonderland/messaging/idempotency.hpp"
#include "wonderland/sqlite/db.hpp"

namespace wonderland::sqlite {

/// Keeps outcomes in table `idempotency(key PRIMARY KEY, reply, error, created_at)` of `db`.
/// `run_once` opens a transaction (BEGIN IMMEDIATE), looks the key up, and otherwise runs the
/// effect inside that same transaction, so the effect's own writes on `db` and the recorded
/// outcome commit together. When the effect returns an error its writes are rolled back; a final
/// error is recorded (the same key gets the same answer), a retryable one is not. Calls are serialised by an internal mutex; `db` must not be used
/// concurrently by other threads.
class SqliteIdempotencyStore : public messaging::IdempotencyStore {
 public:
  explicit SqliteIdempotencyStore(Db& db);
  Result<nlohmann::json> run_once(const std::string& key,
                                  const std::function<Result<nlohmann::json>()>& effect) override;
  /// Whether an outcome is recorded for `key` (for tests and diagnostics).
  bool has(const std::string& key);

 private:
  Db& db_;
  std::mutex mu_;
};

}  // namespace wonderland::sqlite
