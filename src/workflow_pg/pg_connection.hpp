// The PostgreSQL journal's connections and the one place where libpqxx failures become error
// values. Nothing outside src/workflow_pg sees libpqxx.
#pragma once

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wonderland/common/error.hpp"

namespace wonderland::workflow::pg {

/// SQL that formats the timestamptz expression `expr` as `2026-01-01T00:00:00.000Z`.
std::string iso(const std::string& expr);

/// A PostgreSQL text[] literal of `items` (for `= ANY($1::text[])`).
std::string text_array(const std::vector<std::string>& items);

/// Whether `schema` is an acceptable schema name: 1-63 of [a-z0-9_], not starting with a digit
/// or `pg_`.
bool valid_schema_name(const std::string& schema);

/// One connection, opened on first use with search_path = the schema, reopened after a loss.
/// `application_name` names it in pg_stat_activity. Not thread-safe.
class Connection {
 public:
  Connection(const std::string& url, std::string schema, std::string application_name);
  /// The open connection; throws pqxx::broken_connection when the server cannot be reached.
  pqxx::connection& get();
  /// Drops the connection; the next get() opens a new one.
  void reset() noexcept;

 private:
  std::string url_;
  std::string schema_;
  std::string application_name_;
  std::unique_ptr<pqxx::connection> conn_;
};

/// The error for the exception being handled, as the journal operation `operation`: a lost
/// connection or an unknown commit outcome is `unavailable`, a serialization failure or a
/// deadlock `aborted`, exhausted resources `resource_exhausted`, an ErrorException its error,
/// anything else `internal`. Call it only inside a catch block.
Error current_error(std::string_view operation);

/// Runs `body` (returning a Status or a Result), turning what it throws into an error; drops
/// the connection when it was lost.
template <class F>
auto guarded(Connection& conn, std::string_view operation, F&& body) -> decltype(body()) {
  try {
    return std::forward<F>(body)();
  } catch (...) {
    Error e = current_error(operation);
    if (e.code == codes::kUnavailable)
      conn.reset();
    return e;
  }
}

}  // namespace wonderland::workflow::pg
