#include "store_queries.hpp"

#include "database.hpp"

namespace wonderland::customer {
namespace {

using nlohmann::json;

json nullable(const pqxx::field& f) {
  return f.is_null() ? json(nullptr) : json(f.as<std::string>());
}

}  // namespace

std::string iso(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

Error not_found(const std::string& customer_id) {
  return Error::of(codes::kNotFound, "no customer with id " + customer_id);
}

std::optional<json> load_profile(pqxx::transaction_base& tx, const std::string& customer_id) {
  auto rows = exec_sql(tx,
                       "SELECT id::text, username, email, first_name, last_name, phone, " +
                           iso("created_at") + " FROM customers WHERE id = $1",
                       customer_id);
  if (rows.empty())
    return std::nullopt;
  const auto& r = rows[0];
  json addresses = json::array();
  for (const auto& a : exec_sql(tx,
                                "SELECT line1, line2, city, postal_code, country FROM addresses "
                                "WHERE customer_id = $1 ORDER BY id",
                                customer_id)) {
    addresses.push_back(json{{"line1", a[0].as<std::string>()},
                             {"line2", nullable(a[1])},
                             {"city", a[2].as<std::string>()},
                             {"postal_code", a[3].as<std::string>()},
                             {"country", a[4].as<std::string>()}});
  }
  return json{{"customer_id", r[0].as<std::string>()}, {"username", r[1].as<std::string>()},
              {"email", r[2].as<std::string>()},       {"first_name", r[3].as<std::string>()},
              {"last_name", r[4].as<std::string>()},   {"phone", nullable(r[5])},
              {"addresses", std::move(addresses)},     {"created_at", r[6].as<std::string>()}};
}

bool customer_exists(pqxx::transaction_base& tx, const std::string& customer_id) {
  return !exec_sql(tx, "SELECT 1 FROM customers WHERE id = $1", customer_id).empty();
}

bool lock_customer(pqxx::transaction_base& tx, const std::string& customer_id) {
  return !exec_sql(tx, "SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE", customer_id)
              .empty();
}

json basket_lines(const pqxx::result& rows) {
  json items = json::array();
  for (const auto& row : rows)
    items.push_back(json{{"isbn", row[0].as<std::string>()}, {"quantity", row[1].as<int>()}});
  return items;
}

json basket_items(pqxx::transaction_base& tx, const std::string& customer_id) {
  return basket_lines(exec_sql(
      tx, "SELECT isbn, quantity FROM basket_items WHERE customer_id = $1 ORDER BY added_at, isbn",
      customer_id));
}

}  // namespace wonderland::customer
