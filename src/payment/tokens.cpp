#include "tokens.hpp"

#include "ledger.hpp"
#include "requests.hpp"
#include "sealing.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/common/request_fields.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/payment/payments.hpp"
#include "wonderland/payment/protocol.hpp"
#include "wonderland/sqlite/guarded.hpp"

namespace wonderland::payment {
namespace {

using nlohmann::json;

std::int64_t epoch_seconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

Error unknown_token() {
  Error e = Error::of(codes::kInvalidArgument,
                      "unknown payment token (never issued, or issued to another customer); "
                      "enter the payment details again");
  e.fields = {{"payment_token", "is not a payment token of this customer"}};
  return e;
}

/// The details JSON that is sealed behind a token.
std::string details_text(const PaymentMethod& pm) {
  return pm.method == Method::kPaypal
             ? json{{"paypal_email", pm.paypal_email}}.dump()
             : json{{"card_number", pm.card_number}, {"expiry", pm.expiry}, {"cvv", pm.cvv}}.dump();
}

/// Opens a token's sealed details into the method's fields; nullopt when they do not open.
std::optional<PaymentMethod> open_details(const SecretKey& key, const std::string& method,
                                          const std::string& sealed) {
  std::optional<Method> m = parse_method(method);
  std::optional<std::string> plain = open(key, sealed);
  if (!m || !plain)
    return std::nullopt;
  json details = json::parse(*plain, nullptr, false);
  wipe(*plain);
  PaymentMethod pm;
  pm.method = *m;
  if (details.is_object()) {
    pm.card_number = details.value("card_number", "");
    pm.paypal_email = details.value("paypal_email", "");
  }
  return pm;
}

}  // namespace

namespace tokens {

void store(sqlite::Db& db, const NewToken& token) {
  db.prepare("DELETE FROM payment_tokens WHERE decided_at IS NULL AND expires_at < ?")
      .bind(1, epoch_seconds(token.created_at))
      .step();
  db.prepare(
        "INSERT INTO payment_tokens(token_hash, customer_id, method, masked, sealed, "
        "created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)")
      .bind(1, token.token_hash)
      .bind(2, token.customer_id)
      .bind(3, token.method)
      .bind(4, token.masked)
      .bind(5, token.sealed)
      .bind(6, format_iso8601(token.created_at))
      .bind(7, epoch_seconds(token.expires_at))
      .step();
}

Result<Opened> open(sqlite::Db& db, const SecretKey& key, const std::string& token_hash,
                    const std::string& customer_id, const std::string& order_id, SystemTime now) {
  auto row = db.prepare(
      "SELECT customer_id, method, masked, sealed, expires_at, decided_at FROM "
      "payment_tokens WHERE token_hash = ?");
  row.bind(1, token_hash);
  if (!row.step() || row.text(0) != customer_id)
    return unknown_token();
  if (row.is_null(5) && row.int64(4) < epoch_seconds(now)) {
    return Error::of(codes::kFailedPrecondition, "The payment details expired; enter them again");
  }
  Opened opened{{}, row.text(2), row.text(3)};
  std::optional<PaymentMethod> details = open_details(key, row.text(1), opened.sealed);
  if (!details) {
    log::error("order {}: the payment details of its token cannot be opened (another payment key?)",
               order_id);
    return Error::of(codes::kInternal, "the payment details cannot be read");
  }
  opened.details = std::move(*details);
  return opened;
}

void discard_cvv(sqlite::Db& db, const SecretKey& key, const std::string& token_hash,
                 const std::string& sealed) {
  std::optional<std::string> plain = payment::open(key, sealed);
  if (!plain)
    return;
  json details = json::parse(*plain, nullptr, false);
  wipe(*plain);
  std::string resealed = sealed;
  if (details.is_object() && details.contains("cvv")) {
    details.erase("cvv");
    std::string text = details.dump();
    resealed = seal(key, text);
    wipe(text);
  }
  db.prepare(
        "UPDATE payment_tokens SET sealed = ?, decided_at = COALESCE(decided_at, ?) WHERE "
        "token_hash = ?")
      .bind(1, resealed)
      .bind(2, now_iso8601())
      .bind(3, token_hash)
      .step();
}

}  // namespace tokens

Result<nlohmann::json> Payments::validate(const nlohmann::json& body) {
  if (!body.is_object())
    return not_an_object();
  auto it = body.find("payment");
  Result<PaymentMethod> pm = parse_payment_method(it == body.end() ? json() : *it, now());
  if (!pm.ok())
    return pm.error();
  json reply{{"method", to_string(pm->method)}, {"masked", pm->masked()}};
  wipe(pm.value());
  return reply;
}

Result<nlohmann::json> Payments::tokenize(const nlohmann::json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  std::string customer_id;
  read_uuid(body, "customer_id", customer_id, fields);
  auto it = body.find("payment");
  Result<PaymentMethod> parsed = parse_payment_method(it == body.end() ? json() : *it, now());
  if (!parsed.ok()) {
    for (const auto& f : parsed.error().fields)
      fields.push_back(f);
    if (parsed.error().fields.empty())
      fields.push_back({"payment", parsed.error().message});
  }
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  PaymentMethod& pm = parsed.value();

  TokenizeReply reply{random_hex(32), to_string(pm.method), pm.masked(), {}, {}};
  if (pm.method != Method::kPaypal) {
    reply.brand = reply.method;
    reply.last4 = pm.last4();
  }
  std::string plain = details_text(pm);
  const SystemTime at = now();
  const tokens::NewToken token{hex_sha256(reply.payment_token),
                               customer_id,
                               reply.method,
                               reply.masked,
                               seal(*key_, plain),
                               at,
                               at + options_.token_ttl};
  wipe(plain);
  wipe(pm);
  Result<json> stored = sqlite::guarded(ledger::store(), "tokenize", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    tokens::store(*db_, token);
    return json::object();
  });
  if (!stored.ok())
    return stored.error();
  return json(reply);
}

}  // namespace wonderland::payment
