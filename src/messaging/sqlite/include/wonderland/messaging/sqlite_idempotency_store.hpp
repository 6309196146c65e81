// An IdempotencyStore on SQLite: the outcome of each command is stored under its idempotency
// key in the same transaction as the command's effects. Its own library
// (wonderland::messaging_sqlite), so that neither SQLite storage nor the broker depends on the
// other; the services that keep their data in SQLite link it.
#pragma once

#include <mutex>

#include "wonderland/messaging/idempotency.hpp"
#include "wonderland/sqlite/db.hpp"

namespace wonderland::messaging {

/// Keeps outcomes in table `idempotency(key PRIMARY KEY, reply, error, created_at)` of `db`.
/// `run_once` opens a transaction (BEGIN IMMEDIATE), looks the key up, and otherwise runs the
/// effect inside that same transaction, so the effect's own writes on `db` and the recorded
/// outcome commit together. When the effect returns an error its writes are rolled back; a final
/// error is recorded (the same key gets the same answer), a retryable one is not. Calls are
/// serialised by an internal mutex; `db` must not be used concurrently by other threads.
class SqliteIdempotencyStore : public IdempotencyStore {
 public:
  explicit SqliteIdempotencyStore(sqlite::Db& db);
  Result<nlohmann::json> run_once(const std::string& key,
                                  const std::function<Result<nlohmann::json>()>& effect) override;
  /// Whether an outcome is recorded for `key` (for tests and diagnostics).
  bool has(const std::string& key);

 private:
  sqlite::Db& db_;
  std::mutex mu_;
};

}  // namespace wonderland::messaging
