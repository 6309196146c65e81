// The Store's accounts: sign-up, sessions, profiles and addresses.
#include <pqxx/pqxx>

#include "store.hpp"
#include "store_queries.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/customer/validation.hpp"

namespace wonderland::customer {
namespace {

using nlohmann::json;

Error unauthenticated(std::string message) {
  return Error::of(codes::kUnauthenticated, std::move(message));
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

Result<Store::PreparedSignUp> Store::prepare_sign_up(const json& body) const {
  auto parsed = parse_sign_up(body);
  if (!parsed)
    return parsed.error();
  PreparedSignUp prepared{std::move(parsed.value()), {}};
  prepared.password_hash = hash_password(prepared.request.password, options_.password);
  return prepared;
}

Result<json> Store::sign_up(const json& body, const messaging::Envelope* cause) {
  auto prepared = prepare_sign_up(body);
  if (!prepared)
    return prepared.error();
  return sign_up(prepared.value(), cause);
}

Result<json> Store::sign_up(const PreparedSignUp& prepared, const messaging::Envelope* cause) {
  const SignUpRequest& s = prepared.request;
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    if (auto conflict = sign_up_conflict(tx, s.username, s.email))
      return *conflict;
    std::string id = new_uuid();
    std::string now = format_iso8601(this->now());
    auto inserted = exec_sql(
        tx,
        "INSERT INTO customers (id, username, email, password_hash, first_name, last_name, phone, "
        "created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz) ON CONFLICT DO NOTHING RETURNING id",
        id, s.username, s.email, prepared.password_hash, s.first_name, s.last_name, s.phone, now);
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
  const auto refused = [] { return unauthenticated("Invalid username or password"); };
  // 1. The customer's hash, read by one statement of its own: argon2id's tens of milliseconds
  //    then run with no transaction open.
  std::string customer_id;
  std::string checked_hash;
  auto found = without_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    auto rows = exec_sql(
        tx, "SELECT id::text, password_hash FROM customers WHERE lower(username) = lower($1)",
        username);
    if (!rows.empty()) {
      customer_id = rows[0][0].as<std::string>();
      checked_hash = rows[0][1].as<std::string>();
    }
    return json::object();
  });
  if (!found)
    return found.error();
  if (customer_id.empty()) {
    (void)verify_password(dummy_hash(), password);  // same work as for a known user
    return refused();
  }
  if (!verify_password(checked_hash, password))
    return refused();
  std::optional<std::string> upgraded;
  if (needs_rehash(checked_hash, options_.password))
    upgraded = hash_password(password, options_.password);

  // 2. The session, written only if the hash checked is still the customer's.
  return in_transaction([&](pqxx::transaction_base& tx) -> Result<json> {
    auto rows =
        exec_sql(tx, "SELECT password_hash FROM customers WHERE id = $1 FOR UPDATE", customer_id);
    if (rows.empty())
      return refused();
    if (std::string current = rows[0][0].as<std::string>(); current != checked_hash) {
      // Changed since it was read (a concurrent sign-in upgraded it): check against the new one.
      // Rare, so the hash's time inside this transaction does not matter here.
      if (!verify_password(current, password))
        return refused();
    } else if (upgraded) {
      exec_sql(tx, "UPDATE customers SET password_hash = $2 WHERE id = $1", customer_id, *upgraded);
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
  return for_customer(
      body, [&](pqxx::transaction_base& tx, const std::string& customer_id) -> Result<json> {
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

}  // namespace wonderland::customer
