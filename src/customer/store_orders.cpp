// The Store's orders: the purchase snapshot and the order history.
#include <pqxx/pqxx>

#include "store.hpp"
#include "store_queries.hpp"
#include "wonderland/customer/validation.hpp"

namespace wonderland::customer {

using nlohmann::json;

Result<json> Store::validate(const json& body) {
  // The profile and the basket in one statement: one round trip, one snapshot.
  return for_customer(
      body,
      [&](pqxx::transaction_base& tx, const std::string& customer_id) -> Result<json> {
        auto rows =
            exec_sql(tx,
                     "SELECT c.email, c.first_name, c.last_name, (SELECT coalesce(json_agg("
                     "json_build_object('isbn', b.isbn, 'quantity', b.quantity) ORDER BY "
                     "b.added_at, b.isbn), '[]') FROM basket_items b WHERE b.customer_id = c.id)"
                     "::text FROM customers c WHERE c.id = $1",
                     customer_id);
        if (rows.empty())
          return not_found(customer_id);
        json items = json::parse(rows[0][3].as<std::string>());
        if (items.empty())
          return Error::of(codes::kFailedPrecondition, "Your basket is empty");
        return json{{"customer_id", customer_id},
                    {"email", rows[0][0].as<std::string>()},
                    {"first_name", rows[0][1].as<std::string>()},
                    {"last_name", rows[0][2].as<std::string>()},
                    {"items", std::move(items)}};
      },
      &Store::without_transaction);
}

Result<json> Store::record_order(const json& body) {
  auto parsed = parse_order_record(body);
  if (!parsed)
    return parsed.error();
  const OrderRecord& o = parsed.value();
  // No transaction of its own: the insert is one atomic statement, and the reads after a
  // refused insert only ask whether the customer exists and who owns the order.
  return without_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    // One statement in the common case: the insert checks that the customer exists. With
    // clear_basket, the same statement also empties the basket, under the customer's lock and
    // only when it inserted the order: the order and the emptying happen together, once. As in
    // clear_basket, the delete reads the basket as the statement began, so a line that a
    // concurrent edit added while the statement waited for the lock stays.
    static const std::string kInsert =
        "INSERT INTO orders (order_id, customer_id, items, total_cents, status, created_at)"
        " SELECT $1::uuid, $2::uuid, $3::jsonb, $4::bigint, $5::text, $6::timestamptz WHERE EXISTS"
        " (SELECT 1 FROM customers WHERE id = $2::uuid) ON CONFLICT (order_id) DO NOTHING"
        " RETURNING order_id";
    static const std::string kInsertAndClear =
        "WITH c AS (SELECT id FROM customers WHERE id = $2::uuid FOR NO KEY UPDATE),"
        " ins AS (INSERT INTO orders (order_id, customer_id, items, total_cents, status,"
        " created_at) SELECT $1::uuid, id, $3::jsonb, $4::bigint, $5::text, $6::timestamptz"
        " FROM c ON CONFLICT (order_id) DO NOTHING RETURNING order_id),"
        " first AS (INSERT INTO basket_clears (order_id, customer_id, cleared_at)"
        " SELECT order_id, $2::uuid, $6::timestamptz FROM ins ON CONFLICT (order_id) DO NOTHING"
        " RETURNING order_id),"
        " emptied AS (DELETE FROM basket_items WHERE customer_id = $2::uuid AND EXISTS"
        " (SELECT 1 FROM first))"
        " SELECT order_id FROM ins";
    auto inserted =
        exec_sql(tx, o.clear_basket ? kInsertAndClear : kInsert, o.order_id, o.customer_id,
                 o.items.dump(), o.total_cents, o.status, format_iso8601(now()));
    if (inserted.empty()) {
      if (!customer_exists(tx, o.customer_id))
        return not_found(o.customer_id);
      auto owner =
          exec_sql(tx, "SELECT customer_id::text FROM orders WHERE order_id = $1", o.order_id);
      if (!owner.empty() && owner[0][0].as<std::string>() != o.customer_id) {
        return Error::of(codes::kConflict,
                         "order " + o.order_id + " is recorded for another customer");
      }
    }
    return json{{"order_id", o.order_id}};
  });
}

Result<json> Store::list_orders(const json& body) {
  return for_customer(
      body, [&](pqxx::transaction_base& tx, const std::string& customer_id) -> Result<json> {
        if (!customer_exists(tx, customer_id))
          return not_found(customer_id);
        json orders = json::array();
        for (const auto& row : exec_sql(
                 tx,
                 "SELECT order_id::text, items::text, total_cents, status, " + iso("created_at") +
                     " FROM orders WHERE customer_id = $1 ORDER BY created_at DESC, seq DESC",
                 customer_id)) {
          orders.push_back(json{{"order_id", row[0].as<std::string>()},
                                {"items", json::parse(row[1].as<std::string>())},
                                {"total_cents", row[2].as<std::int64_t>()},
                                {"status", row[3].as<std::string>()},
                                {"created_at", row[4].as<std::string>()}});
        }
        return json{{"orders", std::move(orders)}};
      });
}

}  // namespace wonderland::customer
