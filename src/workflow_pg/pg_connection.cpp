#include "pg_connection.hpp"

#include <spdlog/spdlog.h>

#include <exception>

#include "wonderland/common/postgres_url.hpp"

namespace wonderland::workflow::pg {
namespace {

Error sql_error(std::string_view operation, const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  const std::string what = std::string(operation) + ": " + e.what();
  if (state.rfind("40", 0) == 0)  // serialization failure, deadlock
    return Error::of(codes::kAborted, what);
  if (state.rfind("53", 0) == 0)  // insufficient resources
    return Error::of(codes::kResourceExhausted, what);
  if (state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0)  // shutdown, connection
    return Error::of(codes::kUnavailable, what);
  return Error::of(codes::kInternal, what);
}

}  // namespace

std::string iso(const std::string& expr) {
  return "to_char((" + expr + ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const std::string& item : items) {
    if (out.size() > 1)
      out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

bool valid_schema_name(const std::string& schema) {
  if (schema.empty() || schema.size() > 63 || (schema[0] >= '0' && schema[0] <= '9') ||
      schema.rfind("pg_", 0) == 0)
    return false;
  for (char c : schema) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

Connection::Connection(const std::string& url, std::string schema, std::string application_name)
    : url_(with_connect_timeout(url, 5)),  // an unreachable server fails in seconds
      schema_(std::move(schema)),
      application_name_(std::move(application_name)) {}

pqxx::connection& Connection::get() {
  if (conn_ && !conn_->is_open())
    reset();
  if (!conn_) {
    auto c = std::make_unique<pqxx::connection>(url_);
    if (!schema_.empty())
      c->set_variable("search_path", c->quote_name(schema_));
    c->set_variable("synchronous_commit", "on");
    // A mediator that stops inside a transaction (frozen, swapped out, stopped in a debugger)
    // would keep its row locks, and with them the workflows it owns, which other mediators'
    // claims skip (SKIP LOCKED), and the throttle's advisory locks, which every request waits
    // for: the server ends such a session after this long instead. No transaction here waits
    // on anything but the server between its statements.
    c->set_variable("idle_in_transaction_session_timeout", "2000");
    c->set_variable("application_name", c->quote(application_name_));
    conn_ = std::move(c);
  }
  return *conn_;
}

void Connection::reset() noexcept {
  try {
    conn_.reset();
  } catch (...) {  // closing a broken connection must not throw
  }
}

Error current_error(std::string_view operation) {
  Error error;
  try {
    throw;
  } catch (const ErrorException& e) {
    return e.error();
  } catch (const pqxx::broken_connection& e) {
    error = Error::of(codes::kUnavailable, std::string(operation) + ": no connection: " + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    error = Error::of(codes::kUnavailable,
                      std::string(operation) + ": commit outcome unknown: " + e.what());
  } catch (const pqxx::sql_error& e) {
    error = sql_error(operation, e);
  } catch (const std::exception& e) {
    error = Error::of(codes::kInternal, std::string(operation) + ": " + e.what());
  }
  spdlog::warn("pg journal: {}", error.message);
  return error;
}

}  // namespace wonderland::workflow::pg
