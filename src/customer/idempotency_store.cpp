#include "idempotency_store.hpp"

#include <optional>
#include <pqxx/pqxx>

namespace wonderland::customer {

PgIdempotencyStore::PgIdempotencyStore(Database& db) : db_(db) {}

namespace {

/// The outcome that `key` recorded, or nullopt. Runs in a statement of its own, so that under
/// READ COMMITTED it sees what a concurrent holder of the key committed while we waited.
std::optional<Result<nlohmann::json>> find(pqxx::transaction_base& tx, const std::string& key) {
  auto found = exec_sql(tx, "SELECT reply::text, error::text FROM idempotency WHERE key = $1", key);
  if (found.empty())
    return std::nullopt;
  if (!found[0][1].is_null()) {
    return Result<nlohmann::json>(
        Error::from_json(nlohmann::json::parse(found[0][1].as<std::string>())));
  }
  return Result<nlohmann::json>(nlohmann::json::parse(found[0][0].as<std::string>()));
}

/// Claims `key` for this transaction, or returns the outcome it recorded earlier.
///
/// The claim is the key's row, inserted with a placeholder outcome that `record` overwrites
/// before the commit; it is never seen outside the transaction. A concurrent transaction that
/// claims the same key waits on the primary key until this one ends: after a commit its insert
/// does nothing and it reads the recorded outcome; after a rollback it takes the claim. The
/// common case, a new key, costs one statement.
std::optional<Result<nlohmann::json>> claim_or_find(pqxx::transaction_base& tx,
                                                    const std::string& key) {
  auto claimed = exec_sql(tx,
                          "INSERT INTO idempotency (key, error) VALUES ($1, '{}'::jsonb) ON "
                          "CONFLICT (key) DO NOTHING RETURNING 1",
                          key);
  if (!claimed.empty())
    return std::nullopt;
  auto recorded = find(tx, key);
  if (!recorded) {
    // Only a row deleted between the two statements gets here (nothing deletes keys today).
    throw ErrorException(
        Error::of(codes::kAborted, "idempotency key " + key + " changed meanwhile"));
  }
  return recorded;
}

/// Overwrites the claim's placeholder with the outcome.
void record(pqxx::transaction_base& tx, const std::string& key,
            const Result<nlohmann::json>& outcome) {
  std::optional<std::string> reply;
  std::optional<std::string> error;
  if (outcome.ok()) {
    reply = outcome.value().dump();
  } else {
    error = outcome.error().to_json().dump();
  }
  exec_sql(tx, "UPDATE idempotency SET reply = $2::jsonb, error = $3::jsonb WHERE key = $1", key,
           reply, error);
}

}  // namespace

Result<nlohmann::json> PgIdempotencyStore::run_once(
    const std::string& key, const std::function<Result<nlohmann::json>()>& effect) {
  std::optional<Result<nlohmann::json>> outcome;
  {
    pqxx::work tx(db_.connection());
    if (auto recorded = claim_or_find(tx, key))
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
    // Refused: the transaction (and every write of the effect, and the claim) rolls back here.
  }
  if (outcome->error().retryable)
    return std::move(*outcome);  // not recorded: a retry acts anew
  // A final refusal is recorded in a transaction of its own, so that the same key gets the same
  // answer. A concurrent delivery may have recorded an outcome in between: that one stands.
  pqxx::work tx(db_.connection());
  if (auto recorded = claim_or_find(tx, key))
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
