#include "wonderland/customer/idempotency_store.hpp"

#include <optional>
#include <pqxx/pqxx>

namespace wonderland::customer {
namespace {
/// First key of the two-key advisory locks taken on idempotency keys (an arbitrary constant
/// that keeps them apart from other users of two-key advisory locks).
constexpr int kLockClass = 0x57435553;  // "WCUS"
}  // namespace

PgIdempotencyStore::PgIdempotencyStore(Database& db) : db_(db) {}

Result<nlohmann::json> PgIdempotencyStore::run_once(const std::string& key,
                                                    const std::function<Result<nlohmann::json>()>& effect) {
  pqxx::work tx(db_.connection());
  exec_sql(tx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", kLockClass, key);
  auto found = exec_sql(tx, "SELECT reply::text, error::text FROM idempotency WHERE key = $1", key);
  if (!found.empty()) {
    if (!found[0][1].is_null()) return Error::from_json(nlohmann::json::parse(found[0][1].as<std::string>()));
    return nlohmann::json::parse(found[0][0].as<std::string>());
  }

  // A savepoint (plain SQL: it behaves the same on every libpqxx version) so that a refused
  // command's writes can be undone while the transaction goes on to record the refusal.
  tx.exec("SAVEPOINT effect");
  std::optional<Result<nlohmann::json>> outcome;
  {
    Database::AmbientScope scope(db_, tx);
    try {
      outcome.emplace(effect());
    } catch (const ErrorException& e) {
      outcome.emplace(e.error());
    }
  }
  if (outcome->ok()) {
    tx.exec("RELEASE SAVEPOINT effect");
  } else {
    tx.exec("ROLLBACK TO SAVEPOINT effect");  // a refused command leaves no writes behind
  }
  if (!outcome->ok() && outcome->error().retryable) return std::move(*outcome);  // not recorded

  std::optional<std::string> reply;
  std::optional<std::string> error;
  if (outcome->ok()) {
    reply = outcome->value().dump();
  } else {
    error = outcome->error().to_json().dump();
  }
  exec_sql(tx, "INSERT INTO idempotency (key, reply, error) VALUES ($1, $2::jsonb, $3::jsonb)", key,
           reply, error);
  tx.commit();
  return std::move(*outcome);
}

bool PgIdempotencyStore::has(const std::string& key) {
  pqxx::read_transaction tx(db_.connection());
  return !exec_sql(tx, "SELECT 1 FROM idempotency WHERE key = $1", key).empty();
}

}  // namespace wonderland::customer
