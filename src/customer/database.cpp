#include "wonderland/customer/database.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <functional>
#include <pqxx/pqxx>
#include <stdexcept>

namespace wonderland::customer {

bool valid_schema_name(const std::string& schema) {
  if (schema.empty() || schema.size() > 63) return false;
  if (schema[0] >= '0' && schema[0] <= '9') return false;
  if (schema.rfind("pg_", 0) == 0) return false;
  for (char c : schema) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string with_connect_timeout(const std::string& url, int seconds) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  std::string param = "connect_timeout=" + std::to_string(seconds);
  bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!uri) return url.empty() ? param : url + " " + param;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

Database::Database(std::string url, std::string schema, int connect_timeout_s)
    : url_(with_connect_timeout(url, connect_timeout_s)), schema_(std::move(schema)) {
  if (!valid_schema_name(schema_)) {
    throw std::invalid_argument("'" + schema_ + "' is not an acceptable schema name ([a-z_][a-z0-9_]*)");
  }
}

Database::~Database() = default;

pqxx::connection& Database::connection() {
  if (conn_ && !conn_->is_open()) reset();
  if (!conn_) {
    auto c = std::make_unique<pqxx::connection>(url_);
    // set_variable is re-applied by libpqxx should it ever re-open the connection by itself.
    c->set_variable("search_path", c->quote_name(schema_));
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

bool Database::connected() const { return conn_ && conn_->is_open(); }

Result<nlohmann::json> guarded(Database& db, const std::function<Result<nlohmann::json>()>& body) {
  const auto unavailable = [&](const std::string& why) {
    spdlog::warn("customer database unavailable: {}", why);
    db.reset();
    return Error{codes::kUnavailable, "the customer database is unavailable; try again", true};
  };
  try {
    return body();
  } catch (const ErrorException& e) {
    return e.error();
  } catch (const pqxx::broken_connection& e) {
    return unavailable(e.what());
  } catch (const pqxx::in_doubt_error& e) {
    return unavailable(std::string("commit outcome unknown: ") + e.what());
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || !db.connected()) {
      return unavailable(e.what());
    }
    if (state == "40001" || state == "40P01") {
      return Error{codes::kAborted, "the command clashed with a concurrent one; try again", true};
    }
    if (state.rfind("53", 0) == 0) {
      spdlog::warn("customer database out of resources: {}", e.what());
      return Error{codes::kResourceExhausted, "the customer database is overloaded; try again later", true};
    }
    spdlog::error("customer database error {}: {}", state, e.what());
    return Error{codes::kInternal, "internal database error", false};
  } catch (const pqxx::failure& e) {
    if (!db.connected()) return unavailable(e.what());
    spdlog::error("customer database failure: {}", e.what());
    return Error{codes::kInternal, "internal database error", false};
  } catch (const std::exception& e) {
    spdlog::error("customer command failed: {}", e.what());
    return Error{codes::kInternal, "internal error", false};
  }
}

std::string statement_name(const std::string& sql) {
  char name[24];
  std::snprintf(name, sizeof name, "wl_%016zx", std::hash<std::string>{}(sql));
  return name;
}

}  // namespace wonderland::customer
