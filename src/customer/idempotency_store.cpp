#include "idempotency_store.hpp"

#include <optional>
#include <pqxx/pqxx>

namespace wonderland::customer {
namespace {
/// First key of the two-key advisory locks taken on idempotency keys (an arbitrary constant
/// that keeps them apart from other users of two-key advisory locks).
constexpr int kLockClass = 0x57435553;  // "WCUS"
}  // namespace

PgIdempotencyStore::PgIdempotencyStore(Database& db) : db_(db) {}

namespace {

/// Waits for the key's advisory lock (held until the transaction ends), then reads its recorded
/// outcome. Two statements: under READ COMMITTED a statement reads from a snapshot taken when it
/// starts, so a read in the locking statement could miss what the previous holder committed.
std::optional<Result<nlohmann::json>> lock_and_find(pqxx::transaction_base& tx,
                                                    const std::string& key) {
  exec_sql(tx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", kLockClass, key);
  auto found = exec_sql(tx, "SELECT reply::text, error::text FROM idempotency WHERE key = $1", key);
  if (found.empty())
    return std::nullopt;
  if (!found[0][1].is_null()) {
    return Result<nlohmann::json>(
        Error::from_json(nlohmann::json::parse(found[0][1].as<std::string>())));
  }
  return Result<nlohmann::json>(nlohmann::json::parse(found[0][0].as<std::string>()));
}

void record(pqxx::transaction_base& tx, const std::string& key,
            const Result<nlohmann::json>& outcome) {
  std::optional<std::string> reply;
  std::optional<std::string> error;
  if (outcome.ok()) {
    reply = outcome.value().dump();
  } else {
    error = outcome.error().to_json().dump();
  }
  exec_sql(tx, "INSERT INTO idempotency (key, reply, error) VALUES ($1, $2::jsonb, $3::jsonb)", key,
           reply, error);
}

}  // namespace

Result<nlohmann::json> PgIdempotencyStore::run_once(
    const std::string& key, const std::function<Result<nlohmann::json>()>& effect) {
  std::optional<Result<nlohmann::json>> outcome;
  {
    pqxx::work tx(db_.connection());
    if (auto recorded = lock_and_find(tx, key))
      return std::move(*recorded);
    {
      Database::AmbientScope scope(db_, tx);
      try {
        outcome.emplace(effect());
      } catch (const ErrorException& e) {
        outcome.emplace(e.error());
      }
    }
    if (outcome->ok()) {
      // The common case: the effect's writes and its reply commit together.
      record(tx, key, *outcome);
      tx.commit();
      return std::move(*outcome);
    }
    // Refused: the transaction (and every write of the effect) rolls back here.
  }
  if (outcome->error().retryable)
    return std::move(*outcome);  // not recorded: a retry acts anew
  // A final refusal is recorded in a transaction of its own, so that the same key gets the same
  // answer. A concurrent delivery may have recorded an outcome in between: that one stands.
  pqxx::work tx(db_.connection());
  if (auto recorded = lock_and_find(tx, key))
    return std::move(*recorded);
  record(tx, key, *outcome);
  tx.commit();
  return std::move(*outcome);
}

bool PgIdempotencyStore::has(const std::string& key) {
  pqxx::read_transaction tx(db_.connection());
  return !exec_sql(tx, "SELECT 1 FROM idempotency WHERE key = $1", key).empty();
}

}  // namespace wonderland::customer
