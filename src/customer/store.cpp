#include "store.hpp"

#include <pqxx/pqxx>

#include "wonderland/common/ids.hpp"
#include "wonderland/customer/validation.hpp"

namespace wonderland::customer {
namespace {

using nlohmann::json;

/// SQL that formats a timestamptz column as the project's ISO-8601 UTC form.
std::string iso(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

json nullable(const pqxx::field& f) {
  return f.is_null() ? json(nullptr) : json(f.as<std::string>());
}

Error not_found(const std::string& customer_id) {
  return Error::of(codes::kNotFound, "no customer with id " + customer_id);
}

Error unauthenticated(std::string message) {
  return Error::of(codes::kUnauthenticated, std::move(message));
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

/// Locks the customer's row for the rest of the transaction (serialises basket changes); false
/// when there is no such customer.
bool lock_customer(pqxx::transaction_base& tx, const std::string& customer_id) {
  return !exec_sql(tx, "SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE", customer_id)
              .empty();
}

json basket_items(pqxx::transaction_base& tx, const std::string& customer_id) {
  json items = json::array();
  for (const auto& row : exec_sql(
           tx,
           "SELECT isbn, quantity FROM basket_items WHERE customer_id = $1 ORDER BY added_at, isbn",
           customer_id)) {
    items.push_back(json{{"isbn", row[0].as<std::string>()}, {"quantity", row[1].as<int>()}});
  }
  return items;
}

void insert_address(pqxx::transaction_base& tx, const std::string& customer_id, const Address& a,
                    const std::string& now) {
  exec_sql(
      tx,
      "INSERT INTO addresses (customer_id, line1, line2, city, postal_code, country, created_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz)",
      customer_id, a.line1, a.line2, a.city, a.postal_code, a.country, now);
}

/// The conflict error when the username or the email is taken (case-insensitively), or nullopt.
std::optional<Error> sign_up_conflict(pqxx::transaction_base& tx, const std::string& username,
                                      const std::string& email) {
  auto rows =
      exec_sql(tx,
               "SELECT coalesce(bool_or(lower(username) = lower($1)), false),"
               "       coalesce(bool_or(lower(email) = lower($2)), false)"
               " FROM customers WHERE lower(username) = lower($1) OR lower(email) = lower($2)",
               username, email);
  bool username_taken = rows[0][0].as<bool>();
  bool email_taken = rows[0][1].as<bool>();
  if (!username_taken && !email_taken)
    return std::nullopt;
  Error e = Error::of(codes::kConflict,
                      username_taken ? "username is taken" : "email is already registered");
  if (username_taken)
    e.fields.push_back(FieldError{"username", "username is taken"});
  if (email_taken)
    e.fields.push_back(FieldError{"email", "email is already registered"});
  return e;
}

}  // namespace

Store::Store(Database& db, StoreOptions options) : db_(db), options_(std::move(options)) {}

SystemTime Store::now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

const std::string& Store::dummy_hash() {
  if (!dummy_hash_)
    dummy_hash_ = hash_password(random_hex(16), options_.password);
  return *dummy_hash_;
}

Result<json> Store::in_transaction(const TxBody& body) {
  if (pqxx::transaction_base* tx = db_.ambient())
    return body(*tx);
  pqxx::work tx(db_.connection());
  Result<json> r = body(tx);
  if (r.ok())
    tx.commit();
  return r;
}

Result<json> Store::sign_up(const json& body, const messaging::Envelope* cause) {
  auto parsed = parse_sign_up(body);
  if (!parsed)
    return parsed.error();
  const SignUpRequest& s = parsed.value();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (auto conflict = sign_up_conflict(tx, s.username, s.email))
      return *conflict;
    std::string hash = hash_password(s.password, options_.password);
    std::string id = new_uuid();
    std::string now = format_iso8601(this->now());
    auto inserted = exec_sql(
        tx,
        "INSERT INTO customers (id, username, email, password_hash, first_name, last_name, phone, "
        "created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz) ON CONFLICT DO NOTHING RETURNING id",
        id, s.username, s.email, hash, s.first_name, s.last_name, s.phone, now);
    if (inserted.empty()) {
      // A concurrent sign-up took the name or the email between the check and the insert.
      if (auto conflict = sign_up_conflict(tx, s.username, s.email))
        return *conflict;
      return Error::of(codes::kAborted, "the sign-up clashed with a concurrent one; try again");
    }
    if (s.address)
      insert_address(tx, id, *s.address, now);

    json event_body{{"customer_id", id},
                    {"username", s.username},
                    {"email", s.email},
                    {"first_name", s.first_name},
                    {"last_name", s.last_name}};
    messaging::Envelope event =
        cause != nullptr
            ? messaging::Envelope::caused_by(*cause, kSignedUpEvent, event_body, options_.source)
            : messaging::Envelope::make(kSignedUpEvent, event_body, options_.source);
    exec_sql(tx, "INSERT INTO outbox (routing_key, envelope) VALUES ($1, $2)",
             std::string(kSignedUpEvent), event.serialize());
    return *load_profile(tx, id);
  });
}

Result<json> Store::sign_in(const json& body) {
  BodyReader r(body);
  std::string username = r.required_string("username", 64);
  std::string password = r.raw_string("password", kPasswordMax);
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    const auto refused = [] { return unauthenticated("Invalid username or password"); };
    auto rows = exec_sql(
        tx, "SELECT id::text, password_hash FROM customers WHERE lower(username) = lower($1)",
        username);
    if (rows.empty()) {
      (void)verify_password(dummy_hash(), password);  // same work as for a known user
      return refused();
    }
    std::string customer_id = rows[0][0].as<std::string>();
    std::string hash = rows[0][1].as<std::string>();
    if (!verify_password(hash, password))
      return refused();
    if (needs_rehash(hash, options_.password)) {
      exec_sql(tx, "UPDATE customers SET password_hash = $2 WHERE id = $1", customer_id,
               hash_password(password, options_.password));
    }
    SystemTime now = this->now();
    SystemTime expires = now + options_.session_ttl;
    std::string token = new_session_token();
    exec_sql(tx, "DELETE FROM sessions WHERE customer_id = $1 AND expires_at <= $2::timestamptz",
             customer_id, format_iso8601(now));
    exec_sql(tx,
             "INSERT INTO sessions (token_sha256, customer_id, created_at, expires_at)"
             " VALUES ($1, $2, $3::timestamptz, $4::timestamptz)",
             token_digest(token), customer_id, format_iso8601(now), format_iso8601(expires));
    return json{
        {"token", token}, {"expires_at", format_iso8601(expires)}, {"customer_id", customer_id}};
  });
}

Result<json> Store::sign_out(const json& body) {
  BodyReader r(body);
  std::string token = r.raw_string("token", 256);
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    exec_sql(tx, "DELETE FROM sessions WHERE token_sha256 = $1", token_digest(token));
    return json::object();
  });
}

Result<json> Store::authenticate(const json& body) {
  const auto refused = [] {
    return unauthenticated("Your session has expired or is not valid; please sign in");
  };
  if (!body.is_object() || !body.contains("token") || !body.at("token").is_string())
    return refused();
  std::string token = body.at("token").get<std::string>();
  if (token.empty() || token.size() > 256)
    return refused();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    auto rows = exec_sql(tx,
                         "SELECT customer_id::text FROM sessions WHERE token_sha256 = $1 AND "
                         "expires_at > $2::timestamptz",
                         token_digest(token), format_iso8601(now()));
    if (rows.empty())
      return refused();
    auto profile = load_profile(tx, rows[0][0].as<std::string>());
    if (!profile)
      return refused();
    return *profile;
  });
}

Result<json> Store::get_profile(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    auto profile = load_profile(tx, customer_id);
    if (!profile)
      return not_found(customer_id);
    return *profile;
  });
}

Result<json> Store::add_address(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  auto address = r.address("address");
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (!lock_customer(tx, customer_id))
      return not_found(customer_id);
    insert_address(tx, customer_id, *address, format_iso8601(now()));
    return *load_profile(tx, customer_id);
  });
}

Result<json> Store::get_basket(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
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
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (!lock_customer(tx, b.customer_id))
      return not_found(b.customer_id);
    if (b.quantity == 0) {
      exec_sql(tx, "DELETE FROM basket_items WHERE customer_id = $1 AND isbn = $2", b.customer_id,
               b.isbn);
    } else {
      exec_sql(tx,
               "INSERT INTO basket_items (customer_id, isbn, quantity, added_at) VALUES ($1, $2, "
               "$3, $4::timestamptz)"
               " ON CONFLICT (customer_id, isbn) DO UPDATE SET quantity = EXCLUDED.quantity",
               b.customer_id, b.isbn, b.quantity, format_iso8601(now()));
    }
    return json{{"items", basket_items(tx, b.customer_id)}};
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
    exec_sql(tx,
             "INSERT INTO basket_items (customer_id, isbn, quantity, added_at) VALUES ($1, $2, $3, "
             "$4::timestamptz)"
             " ON CONFLICT (customer_id, isbn) DO UPDATE SET quantity = EXCLUDED.quantity",
             b.customer_id, b.isbn, have + b.quantity, format_iso8601(now()));
    return json{{"items", basket_items(tx, b.customer_id)}};
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

Result<json> Store::validate(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    auto rows = exec_sql(tx, "SELECT email, first_name, last_name FROM customers WHERE id = $1",
                         customer_id);
    if (rows.empty())
      return not_found(customer_id);
    json items = basket_items(tx, customer_id);
    if (items.empty())
      return Error::of(codes::kFailedPrecondition, "Your basket is empty");
    return json{{"customer_id", customer_id},
                {"email", rows[0][0].as<std::string>()},
                {"first_name", rows[0][1].as<std::string>()},
                {"last_name", rows[0][2].as<std::string>()},
                {"items", std::move(items)}};
  });
}

Result<json> Store::record_order(const json& body) {
  auto parsed = parse_order_record(body);
  if (!parsed)
    return parsed.error();
  const OrderRecord& o = parsed.value();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (!customer_exists(tx, o.customer_id))
      return not_found(o.customer_id);
    auto inserted = exec_sql(
        tx,
        "INSERT INTO orders (order_id, customer_id, items, total_cents, status, created_at)"
        " VALUES ($1, $2, $3::jsonb, $4, $5, $6::timestamptz) ON CONFLICT (order_id) DO NOTHING "
        "RETURNING order_id",
        o.order_id, o.customer_id, o.items.dump(), o.total_cents, o.status, format_iso8601(now()));
    if (inserted.empty()) {
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

Result<json> Store::clear_basket(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  std::string order_id = r.uuid("order_id");
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (!lock_customer(tx, customer_id))
      return not_found(customer_id);
    auto first = exec_sql(tx,
                          "INSERT INTO basket_clears (order_id, customer_id, cleared_at) VALUES "
                          "($1, $2, $3::timestamptz)"
                          " ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
                          order_id, customer_id, format_iso8601(now()));
    if (!first.empty())
      exec_sql(tx, "DELETE FROM basket_items WHERE customer_id = $1", customer_id);
    return json::object();
  });
}

Result<json> Store::list_orders(const json& body) {
  BodyReader r(body);
  std::string customer_id = r.uuid("customer_id");
  if (!r.ok())
    return r.error();
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (!customer_exists(tx, customer_id))
      return not_found(customer_id);
    json orders = json::array();
    for (const auto& row :
         exec_sql(tx,
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
