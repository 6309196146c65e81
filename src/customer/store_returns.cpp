// The Store's returns: checking and recording the return of order lines, then the return's
// outcome (refunded, or closed as expired or failed), and the customer's view of them.
#include <map>
#include <optional>
#include <pqxx/pqxx>

#include "store.hpp"
#include "store_queries.hpp"
#include "wonderland/common/request_fields.hpp"
#include "wonderland/customer/validation.hpp"

namespace wonderland::customer {
namespace {

using nlohmann::json;

/// What an order sold of one title.
struct SoldLine {
  std::string title;
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;
};

Error no_order(const std::string& order_id) {
  return Error::of(codes::kNotFound, "no order '" + order_id + "'");
}

Error no_return(const std::string& return_id) {
  return Error::of(codes::kNotFound, "no return '" + return_id + "'");
}

std::int64_t int_field(const json& item, const char* name) {
  auto it = item.find(name);
  return it != item.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

/// The titles an order sold, by isbn, from its recorded `items` (`[{isbn, title, quantity,
/// unit_price_cents, line_total_cents}]`, inventory's priced lines). A title listed twice adds
/// up; a line without a unit price is priced at its total divided by its quantity.
std::map<std::string, SoldLine> sold_lines(const json& items) {
  std::map<std::string, SoldLine> sold;
  if (!items.is_array())
    return sold;
  for (const json& item : items) {
    auto isbn = item.is_object() ? item.find("isbn") : item.end();
    if (!item.is_object() || isbn == item.end() || !isbn->is_string())
      continue;
    SoldLine& line = sold[isbn->get<std::string>()];
    auto title = item.find("title");
    if (line.title.empty() && title != item.end() && title->is_string())
      line.title = title->get<std::string>();
    const std::int64_t quantity = int_field(item, "quantity");
    line.quantity += quantity;
    if (line.unit_price_cents == 0) {
      line.unit_price_cents =
          item.contains("unit_price_cents")
              ? int_field(item, "unit_price_cents")
              : (quantity > 0 ? int_field(item, "line_total_cents") / quantity : 0);
    }
  }
  return sold;
}

/// The columns of a Return (protocol.hpp), its lines aggregated in the order they were asked.
const std::string& return_select() {
  static const std::string sql =
      "SELECT r.return_id::text, r.order_id::text, r.customer_id::text, r.status, "
      "r.refund_cents, r.reason, " +
      iso("r.created_at") + ", " + iso("r.updated_at") +
      ", (SELECT coalesce(json_agg(json_build_object('isbn', l.isbn, 'title', l.title, "
      "'quantity', l.quantity, 'unit_price_cents', l.unit_price_cents, 'refund_cents', "
      "l.refund_cents) ORDER BY l.line), '[]'::json) FROM return_lines l "
      "WHERE l.return_id = r.return_id)::text FROM returns r ";
  return sql;
}

/// A Return from a row of return_select().
json read_return(const pqxx::row& row) {
  json r{{"return_id", row[0].as<std::string>()},
         {"order_id", row[1].as<std::string>()},
         {"customer_id", row[2].as<std::string>()},
         {"status", row[3].as<std::string>()},
         {"refund_cents", row[4].as<std::int64_t>()},
         {"created_at", row[6].as<std::string>()},
         {"updated_at", row[7].as<std::string>()},
         {"lines", json::parse(row[8].as<std::string>())}};
  if (!row[5].is_null())
    r["reason"] = row[5].as<std::string>();
  return r;
}

/// The Returns that `where` (SQL after FROM, with its ORDER BY) selects.
template <typename... Args>
json returns_where(pqxx::transaction_base& tx, const std::string& where, Args&&... args) {
  json returns = json::array();
  for (const auto& row : exec_sql(tx, return_select() + where, std::forward<Args>(args)...))
    returns.push_back(read_return(row));
  return returns;
}

/// The Return `return_id`, or null.
json find_return(pqxx::transaction_base& tx, const std::string& return_id) {
  json found = returns_where(tx, "WHERE r.return_id = $1", return_id);
  return found.empty() ? json(nullptr) : std::move(found[0]);
}

/// The Return `return_id` as it is now (after an update), or not_found.
Result<json> current_return(pqxx::transaction_base& tx, const std::string& return_id) {
  json found = find_return(tx, return_id);
  if (found.is_null())
    return no_return(return_id);
  return found;
}

/// The reply of check_return / record_return for a return as recorded or about to be.
json check_reply(const json& recorded, bool existing, bool record) {
  json reply{{"return_id", recorded["return_id"]},
             {"order_id", recorded["order_id"]},
             {"lines", recorded["lines"]},
             {"refund_cents", recorded["refund_cents"]},
             {"existing", existing}};
  if (record)
    reply["status"] = recorded["status"];
  return reply;
}

/// invalid_argument for request lines the order does not cover; the message names each one:
/// "lines[1].quantity: 3 is more than the 2 bought".
Error uncovered_lines(std::vector<FieldError> fields) {
  std::string message;
  for (const FieldError& f : fields)
    message += (message.empty() ? "" : "; ") + f.field + ": " + f.message;
  return Error::invalid(std::move(message), std::move(fields));
}

/// The lines of a return priced at what was paid for them, and their sum.
struct PricedReturn {
  json lines = json::array();
  std::int64_t refund_cents = 0;
};

/// Prices the request's lines from the order's `items`, or invalid_argument naming each line
/// the order does not cover.
Result<PricedReturn> price_lines(const ReturnRequest& q, const json& items) {
  const std::map<std::string, SoldLine> sold = sold_lines(items);
  std::vector<FieldError> uncovered;
  PricedReturn priced;
  for (std::size_t i = 0; i < q.lines.size(); ++i) {
    const ReturnLineRequest& l = q.lines[i];
    const std::string name = "lines[" + std::to_string(i) + "]";
    auto it = sold.find(l.isbn);
    if (it == sold.end()) {
      uncovered.push_back({name + ".isbn", l.isbn + " is not in order " + q.order_id});
      continue;
    }
    if (l.quantity > it->second.quantity) {
      uncovered.push_back({name + ".quantity", std::to_string(l.quantity) + " is more than the " +
                                                   std::to_string(it->second.quantity) +
                                                   " bought"});
      continue;
    }
    const std::int64_t line_refund = it->second.unit_price_cents * l.quantity;
    priced.refund_cents += line_refund;
    priced.lines.push_back(json{{"isbn", l.isbn},
                                {"title", it->second.title},
                                {"quantity", l.quantity},
                                {"unit_price_cents", it->second.unit_price_cents},
                                {"refund_cents", line_refund}});
  }
  if (!uncovered.empty())
    return uncovered_lines(std::move(uncovered));
  return priced;
}

/// conflict when a line of the request is already in another return of the order.
std::optional<Error> taken_line(pqxx::transaction_base& tx, const ReturnRequest& q) {
  std::map<std::string, std::string> taken;
  for (const auto& row : exec_sql(
           tx, "SELECT isbn, return_id::text FROM return_lines WHERE order_id = $1", q.order_id))
    taken.emplace(row[0].as<std::string>(), row[1].as<std::string>());
  for (const ReturnLineRequest& l : q.lines) {
    if (auto it = taken.find(l.isbn); it != taken.end())
      return Error::of(codes::kConflict,
                       "the line " + l.isbn + " is already in return " + it->second);
  }
  return std::nullopt;
}

/// Inserts the return, awaiting its parcel, and its lines.
void insert_return(pqxx::transaction_base& tx, const ReturnRequest& q, const PricedReturn& priced,
                   const std::string& now_text) {
  exec_sql(tx,
           "INSERT INTO returns (return_id, order_id, customer_id, status, refund_cents, "
           "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6::timestamptz, "
           "$6::timestamptz)",
           q.return_id, q.order_id, q.customer_id, return_status::kAwaitingParcel,
           priced.refund_cents, now_text);
  for (std::size_t i = 0; i < priced.lines.size(); ++i) {
    const json& line = priced.lines[i];
    exec_sql(tx,
             "INSERT INTO return_lines (order_id, isbn, return_id, line, quantity, title, "
             "unit_price_cents, refund_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
             q.order_id, line["isbn"].get<std::string>(), q.return_id, static_cast<int>(i),
             line["quantity"].get<int>(), line["title"].get<std::string>(),
             line["unit_price_cents"].get<std::int64_t>(),
             line["refund_cents"].get<std::int64_t>());
  }
}

}  // namespace

Result<json> Store::check_return(const json& body) {
  return check_or_record_return(body, false);
}

Result<json> Store::record_return(const json& body) {
  return check_or_record_return(body, true);
}

Result<json> Store::check_or_record_return(const json& body, bool record) {
  auto parsed = parse_return_request(body);
  if (!parsed)
    return parsed.error();
  const ReturnRequest& q = parsed.value();
  const int window_days = options_.return_window_days;
  const std::string now_text = format_iso8601(now());
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    // Recording locks the order: two returns of its lines are recorded one after the other.
    const std::string window_end = "(created_at + make_interval(days => $2::integer))";
    auto order = exec_sql(
        tx,
        "SELECT customer_id::text, items::text, " + iso(window_end) + ", $3::timestamptz > " +
            window_end + " FROM orders WHERE order_id = $1" + (record ? " FOR NO KEY UPDATE" : ""),
        q.order_id, window_days, now_text);
    if (order.empty() || order[0][0].as<std::string>() != q.customer_id)
      return no_order(q.order_id);

    // A return_id already recorded (a retry) is answered as recorded, even after the window.
    json recorded = find_return(tx, q.return_id);
    if (!recorded.is_null()) {
      if (recorded["order_id"] != q.order_id || recorded["customer_id"] != q.customer_id) {
        return Error::of(codes::kConflict,
                         "return " + q.return_id + " is recorded for another order");
      }
      return check_reply(recorded, true, record);
    }

    if (order[0][3].as<bool>()) {
      return Error::of(codes::kFailedPrecondition,
                       "the return window of " + std::to_string(window_days) +
                           (window_days == 1 ? " day" : " days") + " for this order ended on " +
                           order[0][2].as<std::string>());
    }

    auto priced = price_lines(q, json::parse(order[0][1].as<std::string>()));
    if (!priced)
      return priced.error();
    if (auto taken = taken_line(tx, q))
      return *taken;
    json reply{{"return_id", q.return_id},
               {"order_id", q.order_id},
               {"lines", priced->lines},
               {"refund_cents", priced->refund_cents},
               {"existing", false}};
    if (!record)
      return reply;
    insert_return(tx, q, *priced, now_text);
    reply["status"] = return_status::kAwaitingParcel;
    return reply;
  });
}

Result<json> Store::complete_return(const json& body) {
  auto parsed = parse_complete_return(body);
  if (!parsed)
    return parsed.error();
  const CompleteReturnRequest& c = parsed.value();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    // The refund happened: `refunded` replaces any other status, and a repeat changes nothing.
    exec_sql(tx,
             "UPDATE returns SET status = $2, refund_cents = $3, updated_at = $4::timestamptz "
             "WHERE return_id = $1 AND status <> $2",
             c.return_id, return_status::kRefunded, c.refund_cents, format_iso8601(now()));
    return current_return(tx, c.return_id);
  });
}

Result<json> Store::close_return(const json& body) {
  auto parsed = parse_close_return(body);
  if (!parsed)
    return parsed.error();
  const CloseReturnRequest& c = parsed.value();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    // A refunded return stays refunded; a repeat (same status and reason) changes nothing.
    exec_sql(tx,
             "UPDATE returns SET status = $2, reason = coalesce(nullif($3::text, ''), reason), "
             "updated_at = $4::timestamptz WHERE return_id = $1 AND status <> $5 AND "
             "(status <> $2 OR reason IS DISTINCT FROM coalesce(nullif($3::text, ''), reason))",
             c.return_id, c.status, c.reason.value_or(""), format_iso8601(now()),
             return_status::kRefunded);
    return current_return(tx, c.return_id);
  });
}

Result<json> Store::list_returns(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  std::optional<std::string> order_id;
  if (r.has("order_id"))
    order_id = r.uuid("order_id");
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (!customer_exists(tx, customer_id))
      return not_found(customer_id);
    // The returns of another customer's order are not even acknowledged, as the order is not.
    if (order_id && exec_sql(tx, "SELECT 1 FROM orders WHERE order_id = $1 AND customer_id = $2",
                             *order_id, customer_id)
                        .empty()) {
      return no_order(*order_id);
    }
    const std::string newest_first = " ORDER BY r.created_at DESC, r.return_id";
    json returns =
        order_id ? returns_where(tx, "WHERE r.customer_id = $1 AND r.order_id = $2" + newest_first,
                                 customer_id, *order_id)
                 : returns_where(tx, "WHERE r.customer_id = $1" + newest_first, customer_id);
    return json{{"returns", std::move(returns)}};
  });
}

Result<json> Store::get_return(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  std::string return_id = r.uuid("return_id");
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    // Another customer's return is answered as an unknown one.
    json found =
        returns_where(tx, "WHERE r.return_id = $1 AND r.customer_id = $2", return_id, customer_id);
    if (found.empty())
      return no_return(return_id);
    return found[0];
  });
}

}  // namespace wonderland::customer
