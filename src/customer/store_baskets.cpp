// The Store's baskets: their lines, and emptying one once per order.
#include <pqxx/pqxx>

#include "store.hpp"
#include "store_queries.hpp"
#include "wonderland/customer/validation.hpp"

namespace wonderland::customer {
namespace {

using nlohmann::json;

/// Sets the quantity of a title in the basket (1-3), adding the line when it is new, and answers
/// with the basket `{items}` it leaves, in one call of set_basket_line (migration 3): the write
/// under the customer's lock (taken there, or already held by this transaction), then the basket
/// read by a statement of its own, so the answer holds the line just written and any that a
/// concurrent edit committed while this one waited for the lock. not_found when there is no such
/// customer.
Result<json> put_line(pqxx::transaction_base& tx, const std::string& customer_id,
                      const std::string& isbn, int quantity, const std::string& now) {
  auto rows = exec_sql(tx, "SELECT line_isbn, line_quantity FROM set_basket_line($1, $2, $3, $4)",
                       customer_id, isbn, quantity, now);
  if (rows.empty())
    return not_found(customer_id);
  return json{{"items", basket_lines(rows)}};
}

}  // namespace

Result<json> Store::get_basket(const json& body) {
  return for_customer(
      body, [&](pqxx::transaction_base& tx, const std::string& customer_id) -> Result<json> {
        if (!customer_exists(tx, customer_id))
          return not_found(customer_id);
        return json{{"items", basket_items(tx, customer_id)}};
      });
}

Result<json> Store::set_basket_item(const json& body) {
  auto parsed = parse_basket_item(body, 0);
  if (!parsed)
    return parsed.error();
  const BasketItemRequest& b = parsed.value();
  if (b.quantity == 0) {
    return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
      if (!lock_customer(tx, b.customer_id))
        return not_found(b.customer_id);
      exec_sql(tx, "DELETE FROM basket_items WHERE customer_id = $1 AND isbn = $2", b.customer_id,
               b.isbn);
      return json{{"items", basket_items(tx, b.customer_id)}};
    });
  }
  // One round trip and no transaction of its own (inside a deduplicated command it joins that
  // transaction).
  return without_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    return put_line(tx, b.customer_id, b.isbn, b.quantity, format_iso8601(now()));
  });
}

Result<json> Store::add_basket_item(const json& body) {
  auto parsed = parse_basket_item(body, 1, 1);
  if (!parsed)
    return parsed.error();
  const BasketItemRequest& b = parsed.value();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (!lock_customer(tx, b.customer_id))
      return not_found(b.customer_id);
    auto rows =
        exec_sql(tx, "SELECT quantity FROM basket_items WHERE customer_id = $1 AND isbn = $2",
                 b.customer_id, b.isbn);
    int have = rows.empty() ? 0 : rows[0][0].as<int>();
    if (have + b.quantity > kMaxCopiesPerTitle) {
      std::string message = "at most " + std::to_string(kMaxCopiesPerTitle) +
                            " copies of one title (" + std::to_string(have) +
                            " already in the basket)";
      Error e = Error::of(codes::kInvalidArgument, message);
      e.fields.push_back(FieldError{"quantity", message});
      return e;
    }
    return put_line(tx, b.customer_id, b.isbn, have + b.quantity, format_iso8601(now()));
  });
}

Result<json> Store::remove_basket_item(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  std::string isbn = r.required_string("isbn", 32);
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (!lock_customer(tx, customer_id))
      return not_found(customer_id);
    exec_sql(tx, "DELETE FROM basket_items WHERE customer_id = $1 AND isbn = $2", customer_id,
             isbn);
    return json{{"items", basket_items(tx, customer_id)}};
  });
}

Result<json> Store::clear_basket(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  std::string order_id = r.uuid("order_id");
  if (!r.ok())
    return r.error();
  // One statement: the customer's lock, then only the first clear for the order empties the
  // basket. The delete reads the basket as the statement began: a line that a concurrent edit
  // added while this clear waited for the lock was not in the order, and stays.
  return without_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    auto rows = exec_sql(
        tx,
        "WITH c AS (SELECT id FROM customers WHERE id = $2 FOR NO KEY UPDATE),"
        " first AS (INSERT INTO basket_clears (order_id, customer_id, cleared_at)"
        " SELECT $1::uuid, id, $3::timestamptz FROM c ON CONFLICT (order_id) DO NOTHING"
        " RETURNING order_id),"
        " emptied AS (DELETE FROM basket_items WHERE customer_id = $2 AND EXISTS (SELECT 1 FROM"
        " first))"
        " SELECT count(*) FROM c",  // a data-changing WITH runs whether read or not
        order_id, customer_id, format_iso8601(now()));
    if (rows[0][0].as<long>() == 0)
      return not_found(customer_id);
    return json::object();
  });
}

}  // namespace wonderland::customer
