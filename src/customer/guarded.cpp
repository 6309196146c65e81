#include "guarded.hpp"

#include <pqxx/pqxx>
#include <string>

#include "wonderland/log/log.hpp"

namespace wonderland::customer {
namespace {

Error unavailable(Database& db, std::string_view operation, std::string_view why) {
  log::warn("{}: customer database unavailable: {}", operation, why);
  db.reset();
  return Error::of(codes::kUnavailable, "the customer database is unavailable; try again");
}

Error internal(std::string_view operation, std::string_view what) {
  log::error("{}: customer database error: {}", operation, what);
  return Error::of(codes::kInternal, "internal database error");
}

/// Maps an SQL error by its SQLSTATE class: 08 connection exception, 57P operator intervention
/// (shutdown), 25P03 the session idled too long in a transaction (Database) and was ended,
/// 40001/40P01 serialization failure or deadlock, 53 insufficient resources.
Error from_sql_error(Database& db, std::string_view operation, const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || state == "25P03" ||
      !db.connected()) {
    return unavailable(db, operation, e.what());
  }
  if (state == "40001" || state == "40P01") {
    return Error::of(codes::kAborted, "the command clashed with a concurrent one; try again");
  }
  if (state.rfind("53", 0) == 0) {
    log::warn("{}: customer database out of resources: {}", operation, e.what());
    return Error::of(codes::kResourceExhausted,
                     "the customer database is overloaded; try again later");
  }
  return internal(operation, state + ": " + e.what());
}

}  // namespace

Result<nlohmann::json> guarded(Database& db, std::string_view operation,
                               const std::function<Result<nlohmann::json>()>& body) {
  try {
    return body();
  } catch (const ErrorException& e) {
    return e.error();
  } catch (const pqxx::broken_connection& e) {
    return unavailable(db, operation, e.what());
  } catch (const pqxx::in_doubt_error& e) {
    return unavailable(db, operation, std::string("commit outcome unknown: ") + e.what());
  } catch (const pqxx::sql_error& e) {
    return from_sql_error(db, operation, e);
  } catch (const pqxx::failure& e) {
    if (!db.connected())
      return unavailable(db, operation, e.what());
    return internal(operation, e.what());
  } catch (const std::exception& e) {
    log::error("{}: failed: {}", operation, e.what());
    return Error::of(codes::kInternal, "internal error");
  }
}

}  // namespace wonderland::customer
