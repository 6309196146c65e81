#include "database.hpp"

#include <cstdio>
#include <functional>
#include <pqxx/pqxx>
#include <stdexcept>

#include "wonderland/common/postgres_url.hpp"

namespace wonderland::customer {

bool valid_schema_name(const std::string& schema) {
  if (schema.empty() || schema.size() > 63)
    return false;
  if (schema[0] >= '0' && schema[0] <= '9')
    return false;
  if (schema.rfind("pg_", 0) == 0)
    return false;
  for (char c : schema) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

Database::Database(const std::string& url, std::string schema, int connect_timeout_s,
                   std::chrono::milliseconds idle_in_transaction)
    : url_(with_connect_timeout(url, connect_timeout_s)),
      schema_(std::move(schema)),
      idle_in_transaction_(idle_in_transaction) {
  if (!valid_schema_name(schema_)) {
    throw std::invalid_argument("'" + schema_ +
                                "' is not an acceptable schema name ([a-z_][a-z0-9_]*)");
  }
}

Database::~Database() = default;

pqxx::connection& Database::connection() {
  if (conn_ && !conn_->is_open())
    reset();
  if (!conn_) {
    auto c = std::make_unique<pqxx::connection>(url_);
    // set_variable is re-applied by libpqxx should it ever re-open the connection by itself.
    c->set_variable("search_path", c->quote_name(schema_));
    c->set_variable("idle_in_transaction_session_timeout",
                    std::to_string(idle_in_transaction_.count()));
    conn_ = std::move(c);
    ++connects_;
  }
  return *conn_;
}

void Database::reset() noexcept {
  try {
    conn_.reset();
  } catch (...) {  // closing a broken connection must not throw out of a destructor path
  }
}

bool Database::connected() const {
  return conn_ && conn_->is_open();
}

std::string statement_name(const std::string& sql) {
  char name[24];
  std::snprintf(name, sizeof name, "wl_%016zx", std::hash<std::string>{}(sql));
  return name;
}

}  // namespace wonderland::customer
