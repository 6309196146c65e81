// The customer service's PostgreSQL access: one lazily (re)opened connection bound to a schema,
// and prepared statements on it (guarded.hpp turns its failures into error values).
//
//   customer::Database db(url, "customer");
//   pqxx::work tx(db.connection());
//   exec_sql(tx, "SELECT 1 FROM customers WHERE id = $1", id);
//
// Every table of the service lives in one schema (WONDERLAND_CUSTOMER_SCHEMA), which is the
// connection's search_path, so SQL names tables unqualified and tests can use a schema of their
// own. A Database is not thread-safe: give each worker thread its own.
#pragma once

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <utility>

namespace wonderland::customer {

/// Whether `schema` is an acceptable schema name: 1–63 of `[a-z0-9_]`, not starting with a digit
/// and not starting with `pg_`.
bool valid_schema_name(const std::string& schema);

class Database {
 public:
  /// How long a session may sit idle inside an open transaction before PostgreSQL ends it
  /// (`idle_in_transaction_session_timeout`). No transaction of the service waits for anything
  /// but its own statements (the outbox publishes outside one), so only a stalled process
  /// reaches it; its row locks and the rows' old versions are then let go instead of blocking
  /// the other workers and vacuum until it wakes. The next use reconnects.
  static constexpr std::chrono::milliseconds kIdleInTransactionLimit{10000};

  /// Does not connect yet. Throws std::invalid_argument for an unacceptable schema name.
  Database(const std::string& url, std::string schema, int connect_timeout_s = 5,
           std::chrono::milliseconds idle_in_transaction = kIdleInTransactionLimit);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// The open connection, with search_path = the schema; connects first when there is none or
  /// the previous one was lost. Throws pqxx::broken_connection when the server cannot be reached.
  pqxx::connection& connection();
  /// Drops the connection (after a failure); the next `connection()` opens a new one.
  void reset() noexcept;
  /// Whether a connection is currently open.
  bool connected() const;
  const std::string& schema() const { return schema_; }
  /// How many connections have been opened so far (for tests and diagnostics).
  int connects() const { return connects_; }

  /// The transaction that an enclosing operation (the idempotency store) has opened for the
  /// current command, or null. Store operations run their SQL in it when it is set, so that
  /// their writes commit or roll back together with the recorded outcome.
  pqxx::transaction_base* ambient() const noexcept { return ambient_; }

  /// Sets the ambient transaction for its lifetime, restoring the previous one afterwards.
  class AmbientScope {
   public:
    AmbientScope(Database& db, pqxx::transaction_base& tx) : db_(db), previous_(db.ambient_) {
      db_.ambient_ = &tx;
    }
    ~AmbientScope() { db_.ambient_ = previous_; }
    AmbientScope(const AmbientScope&) = delete;
    AmbientScope& operator=(const AmbientScope&) = delete;

   private:
    Database& db_;
    pqxx::transaction_base* previous_;
  };

 private:
  std::string url_;
  std::string schema_;
  std::chrono::milliseconds idle_in_transaction_;
  std::unique_ptr<pqxx::connection> conn_;
  pqxx::transaction_base* ambient_ = nullptr;
  int connects_ = 0;
};

/// The name under which `sql` is prepared on a connection: `wl_` and a hash of the text.
std::string statement_name(const std::string& sql);

/// Runs `sql` with `args` as a prepared statement of the transaction's connection, declared on
/// first use (libpqxx registers it with the server when it first runs): PostgreSQL then parses
/// and plans each statement once per connection instead of on every call.
template <typename... Args>
pqxx::result exec_sql(pqxx::transaction_base& tx, const std::string& sql, Args&&... args) {
  const std::string name = statement_name(sql);
  tx.conn().prepare(name, sql);  // a no-op once declared with the same text
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

}  // namespace wonderland::customer
