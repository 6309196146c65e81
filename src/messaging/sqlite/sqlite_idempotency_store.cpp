// SqliteIdempotencyStore: command outcomes kept in SQLite, in the transaction of the effects.
#include "wonderland/messaging/sqlite_idempotency_store.hpp"

#include "wonderland/common/time.hpp"

namespace wonderland::messaging {

SqliteIdempotencyStore::SqliteIdempotencyStore(sqlite::Db& db) : db_(db) {
  db_.exec(
      "CREATE TABLE IF NOT EXISTS idempotency ("
      " key TEXT PRIMARY KEY, reply TEXT, error TEXT, created_at TEXT NOT NULL)");
}

Result<nlohmann::json> SqliteIdempotencyStore::run_once(
    const std::string& key, const std::function<Result<nlohmann::json>()>& effect) {
  std::lock_guard lock(mu_);
  sqlite::Transaction tx(db_);
  auto find = db_.prepare("SELECT reply, error FROM idempotency WHERE key = ?");
  find.bind(1, key);
  if (find.step()) {
    if (!find.is_null(1))
      return Error::from_json(nlohmann::json::parse(find.text(1)));
    return nlohmann::json::parse(find.text(0));
  }
  db_.exec("SAVEPOINT effect");
  Result<nlohmann::json> outcome = effect();
  if (!outcome.ok()) {
    db_.exec("ROLLBACK TO effect");  // a refused command leaves no writes behind
    if (outcome.error().retryable)
      return outcome;  // not recorded: a retry runs it again
  }
  db_.exec("RELEASE effect");
  auto insert =
      db_.prepare("INSERT INTO idempotency(key, reply, error, created_at) VALUES (?, ?, ?, ?)");
  insert.bind(1, key);
  if (outcome.ok()) {
    insert.bind(2, outcome.value().dump()).bind_null(3);
  } else {
    insert.bind_null(2).bind(3, outcome.error().to_json().dump());
  }
  insert.bind(4, now_iso8601());
  insert.step();
  tx.commit();
  return outcome;
}

bool SqliteIdempotencyStore::has(const std::string& key) {
  std::lock_guard lock(mu_);
  auto find = db_.prepare("SELECT 1 FROM idempotency WHERE key = ?");
  find.bind(1, key);
  return find.step();
}

}  // namespace wonderland::messaging
