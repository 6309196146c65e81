#include "wonderland/payment/payments.hpp"

#include <sodium.h>

#include <filesystem>
#include <stdexcept>
#include <thread>
#include <utility>

#include "wonderland/common/ids.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/messaging/idempotency.hpp"

namespace wonderland::payment {
namespace {

using nlohmann::json;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS charges (
  payment_id   TEXT PRIMARY KEY,
  order_id     TEXT NOT NULL UNIQUE,
  customer_id  TEXT NOT NULL,
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  method       TEXT NOT NULL,
  masked       TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('charged', 'refunded')),
  created_at   TEXT NOT NULL,
  refunded_at  TEXT
);
CREATE TABLE IF NOT EXISTS ledger_entries (
  entry_id     TEXT PRIMARY KEY,
  payment_id   TEXT NOT NULL REFERENCES charges(payment_id),
  order_id     TEXT NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_order ON ledger_entries(order_id);
CREATE TABLE IF NOT EXISTS void_orders (
  order_id   TEXT PRIMARY KEY,
  created_at TEXT NOT NULL
);
-- Payment details behind a token: `sealed` is hex(nonce || crypto_secretbox(details JSON)) under
-- the payment key; the token itself is not stored, only its SHA-256.
CREATE TABLE IF NOT EXISTS payment_tokens (
  token_hash  TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  method      TEXT NOT NULL,
  masked      TEXT NOT NULL,
  sealed      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  decided_at  TEXT
);
CREATE INDEX IF NOT EXISTS payment_tokens_expiry ON payment_tokens(expires_at) WHERE decided_at IS NULL;
CREATE TABLE IF NOT EXISTS outbox (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  routing_key  TEXT NOT NULL,
  envelope     TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  published_at TEXT
);
)sql";

/// Overwrites a string that held card data before it is freed.
void wipe(std::string& s) {
  if (!s.empty())
    sodium_memzero(s.data(), s.size());
  s.clear();
}

void wipe(PaymentMethod& pm) {
  wipe(pm.card_number);
  wipe(pm.expiry);
  wipe(pm.cvv);
  wipe(pm.paypal_email);
}

std::string hex_sha256(const std::string& text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char hex[2 * sizeof digest + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

bool is_token(const std::string& s) {
  if (s.size() != 64)
    return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return true;
}

std::int64_t epoch_seconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::optional<Method> parse_method(const std::string& m) {
  if (m == "visa")
    return Method::kVisa;
  if (m == "mastercard")
    return Method::kMastercard;
  if (m == "paypal")
    return Method::kPaypal;
  return std::nullopt;
}

Error unknown_token() {
  return Error{codes::kInvalidArgument,
               "unknown payment token (never issued, or issued to another customer); enter the "
               "payment details again",
               false,
               {{"payment_token", "is not a payment token of this customer"}}};
}

Error not_an_object() {
  return Error{codes::kInvalidArgument, "the request body must be a JSON object", false};
}

void read_uuid(const json& body, const char* key, std::string& out,
               std::vector<FieldError>& fields) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string() || !is_uuid(it->get<std::string>())) {
    fields.push_back({key, "must be a UUID"});
    return;
  }
  out = it->get<std::string>();
}

struct Charge {
  std::string payment_id;
  std::string order_id;
  std::string customer_id;
  std::int64_t amount_cents = 0;
  std::string method;
  std::string masked;
  std::string status;
};

std::optional<Charge> load_charge(sqlite::Db& db, const std::string& order_id) {
  auto find = db.prepare(
      "SELECT payment_id, order_id, customer_id, amount_cents, method, masked, status FROM charges "
      "WHERE order_id = ?");
  find.bind(1, order_id);
  if (!find.step())
    return std::nullopt;
  return Charge{find.text(0), find.text(1), find.text(2), find.int64(3),
                find.text(4), find.text(5), find.text(6)};
}

json charge_reply(const Charge& c) {
  return json{
      {"payment_id", c.payment_id}, {"order_id", c.order_id}, {"amount_cents", c.amount_cents},
      {"method", c.method},         {"masked", c.masked},     {"status", "charged"}};
}

bool is_void(sqlite::Db& db, const std::string& order_id) {
  auto find = db.prepare("SELECT 1 FROM void_orders WHERE order_id = ?");
  find.bind(1, order_id);
  return find.step();
}

void add_entry(sqlite::Db& db, const Charge& c, const char* kind, const std::string& at) {
  db.prepare(
        "INSERT INTO ledger_entries(entry_id, payment_id, order_id, kind, amount_cents, "
        "created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, new_uuid())
      .bind(2, c.payment_id)
      .bind(3, c.order_id)
      .bind(4, kind)
      .bind(5, c.amount_cents)
      .bind(6, at)
      .step();
}

/// The outcome of the payment provider for a validated method (the simulated provider).
std::optional<Error> provider_decision(const PaymentMethod& pm) {
  if (pm.method == Method::kPaypal) {
    if (pm.paypal_email == kDeclinedPaypal) {
      return Error{codes::kFailedPrecondition, "Your PayPal payment was declined", false};
    }
    return std::nullopt;
  }
  if (pm.card_number == kDeclinedCard)
    return Error{codes::kFailedPrecondition, "Your card was declined", false};
  if (pm.card_number == kInsufficientFundsCard)
    return Error{codes::kFailedPrecondition, "Insufficient funds", false};
  return std::nullopt;
}

}  // namespace

Payments::Payments(Options options) : options_(std::move(options)) {
  if (!(options_.fault_rate >= 0.0 && options_.fault_rate <= 1.0)) {
    throw std::invalid_argument("payment fault_rate must be between 0 and 1");
  }
  if (options_.latency.count() < 0)
    throw std::invalid_argument("payment latency must not be negative");
  if (options_.fault_seed) {
    rng_.seed(*options_.fault_seed);
  } else {
    std::random_device rd;
    rng_.seed((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  }
  if (options_.token_ttl.count() < 1)
    throw std::invalid_argument("payment token_ttl must be at least 1 s");
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium could not be initialised");
  if (options_.key) {
    key_ = options_.key;
  } else if (!options_.key_file.empty()) {
    key_ = std::make_shared<const SecretKey>(SecretKey::load_or_create(options_.key_file));
  } else if (options_.db_path.empty() || options_.db_path == ":memory:") {
    key_ = std::make_shared<const SecretKey>(SecretKey::random());
  } else {
    key_ = std::make_shared<const SecretKey>(SecretKey::load_or_create(
        std::filesystem::path(options_.db_path).parent_path() / "payment.key"));
  }
  db_ = std::make_unique<sqlite::Db>(options_.db_path, options_.sqlite);
  // Deleted and rewritten rows (sealed details, CVVs discarded) are overwritten, not left in
  // free pages.
  db_->exec("PRAGMA secure_delete=ON");
  db_->exec(kSchema);
  idempotency_ = std::make_unique<messaging::SqliteIdempotencyStore>(*db_);
  if (options_.fault_rate > 0.0 || options_.latency.count() > 0) {
    log::warn("payment fault injection on: {} of charges/refunds fail, {} ms added latency",
              options_.fault_rate, options_.latency.count());
  }
}

Payments::~Payments() = default;

SystemTime Payments::now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

std::optional<Error> Payments::injected_fault() {
  if (options_.latency.count() > 0)
    std::this_thread::sleep_for(options_.latency);
  if (options_.fault_rate <= 0.0)
    return std::nullopt;
  bool fail = false;
  {
    std::lock_guard lock(rng_mu_);
    fail = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < options_.fault_rate;
  }
  if (!fail)
    return std::nullopt;
  return Error{codes::kUnavailable,
               "the payment provider is unavailable (injected fault); try again", true};
}

template <class F>
Result<nlohmann::json> Payments::guarded(const char* what, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const sqlite::SqliteError& e) {
    if (e.busy()) {
      log::warn("{}: database busy: {}", what, e.what());
      return Error{codes::kUnavailable, "the payment ledger is busy; try again", true};
    }
    log::error("{}: database error: {}", what, e.what());
    return Error{codes::kInternal, "payment ledger error", false};
  } catch (const ErrorException& e) {
    return e.error();
  } catch (const std::exception& e) {
    log::error("{}: {}", what, e.what());
    return Error{codes::kInternal, std::string(what) + " failed", false};
  }
}

std::string Payments::seal(const std::string& plain) const {
  std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(out, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), out,
                        key_->data());
  std::string hex(2 * box.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), out, box.size());
  hex.pop_back();
  return hex;
}

std::optional<std::string> Payments::open(const std::string& sealed) const {
  std::string box(sealed.size() / 2, '\0');
  std::size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(box.data()), box.size(), sealed.data(),
                     sealed.size(), nullptr, &len, nullptr) != 0 ||
      len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return std::nullopt;
  }
  const auto* in = reinterpret_cast<const unsigned char*>(box.data());
  std::string plain(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 in + crypto_secretbox_NONCEBYTES,
                                 len - crypto_secretbox_NONCEBYTES, in, key_->data()) != 0) {
    return std::nullopt;
  }
  return plain;
}

void Payments::discard_cvv(const std::string& token_hash, const std::string& sealed) {
  std::optional<std::string> plain = open(sealed);
  if (!plain)
    return;
  json details = json::parse(*plain, nullptr, false);
  wipe(*plain);
  std::string resealed = sealed;
  if (details.is_object() && details.contains("cvv")) {
    details.erase("cvv");
    std::string text = details.dump();
    resealed = seal(text);
    wipe(text);
  }
  db_->prepare(
         "UPDATE payment_tokens SET sealed = ?, decided_at = COALESCE(decided_at, ?) WHERE "
         "token_hash = ?")
      .bind(1, resealed)
      .bind(2, now_iso8601())
      .bind(3, token_hash)
      .step();
}

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

  json reply{{"method", to_string(pm.method)}, {"masked", pm.masked()}};
  if (pm.method != Method::kPaypal) {
    reply["brand"] = to_string(pm.method);
    reply["last4"] = pm.last4();
  }
  std::string plain =
      pm.method == Method::kPaypal
          ? json{{"paypal_email", pm.paypal_email}}.dump()
          : json{{"card_number", pm.card_number}, {"expiry", pm.expiry}, {"cvv", pm.cvv}}.dump();
  const std::string sealed = seal(plain);
  wipe(plain);
  wipe(pm);
  const std::string token = random_hex(32);
  const SystemTime at = now();
  Result<json> stored = guarded("tokenize", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    // Tokens never charged are deleted once expired (secure_delete overwrites them).
    db_->prepare("DELETE FROM payment_tokens WHERE decided_at IS NULL AND expires_at < ?")
        .bind(1, epoch_seconds(at))
        .step();
    db_->prepare(
           "INSERT INTO payment_tokens(token_hash, customer_id, method, masked, sealed, "
           "created_at, expires_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(1, hex_sha256(token))
        .bind(2, customer_id)
        .bind(3, reply["method"].get<std::string>())
        .bind(4, reply["masked"].get<std::string>())
        .bind(5, sealed)
        .bind(6, format_iso8601(at))
        .bind(7, epoch_seconds(at + options_.token_ttl))
        .step();
    return json::object();
  });
  if (!stored.ok())
    return stored.error();
  reply["payment_token"] = token;
  return reply;
}

Result<nlohmann::json> Payments::charge(const nlohmann::json& body,
                                        const std::string& idempotency_key) {
  if (auto fault = injected_fault())
    return *fault;
  if (!body.is_object())
    return not_an_object();

  std::vector<FieldError> fields;
  std::string order_id;
  std::string customer_id;
  read_uuid(body, "order_id", order_id, fields);
  read_uuid(body, "customer_id", customer_id, fields);
  std::int64_t amount = 0;
  auto amount_it = body.find("amount_cents");
  if (amount_it == body.end() || !amount_it->is_number_integer() ||
      (amount_it->is_number_unsigned() &&
       amount_it->get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxAmountCents)) ||
      amount_it->get<std::int64_t>() < 1 || amount_it->get<std::int64_t>() > kMaxAmountCents) {
    fields.push_back(
        {"amount_cents", "must be an integer from 1 to " + std::to_string(kMaxAmountCents)});
  } else {
    amount = amount_it->get<std::int64_t>();
  }
  std::string token;
  auto token_it = body.find("payment_token");
  if (token_it == body.end() || !token_it->is_string() || !is_token(token_it->get<std::string>())) {
    fields.push_back({"payment_token", "must be a payment token from payment.tokenize"});
  } else {
    token = token_it->get<std::string>();
  }
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  const std::string token_hash = hex_sha256(token);

  return guarded("charge", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    std::optional<std::string> declined_sealed;  // the token's row, when its charge was declined
    Result<json> outcome =
        messaging::deduplicated(*idempotency_, idempotency_key, [&]() -> Result<json> {
          if (auto existing = load_charge(*db_, order_id)) {
            if (existing->status == "refunded") {
              return Error{codes::kFailedPrecondition,
                           "The payment for order " + order_id + " was refunded", false};
            }
            return charge_reply(*existing);
          }
          if (is_void(*db_, order_id)) {
            return Error{codes::kFailedPrecondition,
                         "Order " + order_id + " was cancelled (refunded before it was charged)",
                         false};
          }
          auto row = db_->prepare(
              "SELECT customer_id, method, masked, sealed, expires_at, decided_at FROM "
              "payment_tokens WHERE token_hash = ?");
          row.bind(1, token_hash);
          if (!row.step() || row.text(0) != customer_id)
            return unknown_token();
          if (row.is_null(5) && row.int64(4) < epoch_seconds(now())) {
            return Error{codes::kFailedPrecondition,
                         "The payment details expired; enter them again", false};
          }
          const std::string sealed = row.text(3);
          const std::string masked = row.text(2);
          std::optional<Method> method = parse_method(row.text(1));
          std::optional<std::string> plain = open(sealed);
          if (!method || !plain) {
            log::error(
                "order {}: the payment details of its token cannot be opened (another payment "
                "key?)",
                order_id);
            return Error{codes::kInternal, "the payment details cannot be read", false};
          }
          json details = json::parse(*plain, nullptr, false);
          wipe(*plain);
          PaymentMethod pm;
          pm.method = *method;
          if (details.is_object()) {
            pm.card_number = details.value("card_number", "");
            pm.paypal_email = details.value("paypal_email", "");
          }
          std::optional<Error> declined = provider_decision(pm);
          wipe(pm);
          if (declined) {
            declined_sealed = sealed;
            log::info("order {}: {} {} declined: {}", order_id, to_string(*method), masked,
                      declined->message);
            return *declined;
          }
          Charge c{new_uuid(),         order_id, customer_id, amount,
                   to_string(*method), masked,   "charged"};
          const std::string at = now_iso8601();
          db_->prepare(
                 "INSERT INTO charges(payment_id, order_id, customer_id, amount_cents, method, "
                 "masked, status, "
                 "created_at) VALUES (?, ?, ?, ?, ?, ?, 'charged', ?)")
              .bind(1, c.payment_id)
              .bind(2, c.order_id)
              .bind(3, c.customer_id)
              .bind(4, c.amount_cents)
              .bind(5, c.method)
              .bind(6, c.masked)
              .bind(7, at)
              .step();
          add_entry(*db_, c, "charge", at);
          discard_cvv(token_hash, sealed);  // in the charge's transaction
          log::info("order {}: charged {} cents to {} {}", order_id, amount, c.method, c.masked);
          return charge_reply(c);
        });
    // A final decline was rolled back with the rest of the refused command: discard now.
    if (declined_sealed && !outcome.ok() && !outcome.error().retryable)
      discard_cvv(token_hash, *declined_sealed);
    return outcome;
  });
}

Result<nlohmann::json> Payments::refund(const nlohmann::json& body,
                                        const std::string& idempotency_key,
                                        const messaging::Envelope* cause) {
  if (auto fault = injected_fault())
    return *fault;
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  std::string order_id;
  read_uuid(body, "order_id", order_id, fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));

  return guarded("refund", [&] {
    std::lock_guard lock(mu_);
    return messaging::deduplicated(*idempotency_, idempotency_key, [&]() -> Result<json> {
      auto existing = load_charge(*db_, order_id);
      const std::string at = now_iso8601();
      if (!existing) {
        db_->prepare(
               "INSERT INTO void_orders(order_id, created_at) VALUES (?, ?) ON CONFLICT(order_id) "
               "DO NOTHING")
            .bind(1, order_id)
            .bind(2, at)
            .step();
        log::info("order {}: nothing to refund", order_id);
        return json{{"order_id", order_id}, {"refunded_cents", 0}, {"status", "nothing_to_refund"}};
      }
      json reply{{"order_id", order_id},
                 {"refunded_cents", existing->amount_cents},
                 {"status", "refunded"}};
      if (existing->status == "refunded")
        return reply;  // refunded once already

      db_->prepare("UPDATE charges SET status = 'refunded', refunded_at = ? WHERE payment_id = ?")
          .bind(1, at)
          .bind(2, existing->payment_id)
          .step();
      add_entry(*db_, *existing, "refund", at);
      json event_body{{"order_id", order_id},
                      {"customer_id", existing->customer_id},
                      {"refunded_cents", existing->amount_cents}};
      messaging::Envelope event =
          cause != nullptr
              ? messaging::Envelope::caused_by(*cause, "order.refunded", event_body, "payment")
              : messaging::Envelope::make("order.refunded", event_body, "payment");
      if (event.correlation_id.empty())
        event.correlation_id = order_id;
      db_->prepare("INSERT INTO outbox(routing_key, envelope, created_at) VALUES (?, ?, ?)")
          .bind(1, "order.refunded")
          .bind(2, event.serialize())
          .bind(3, at)
          .step();
      log::info("order {}: refunded {} cents to {} {}", order_id, existing->amount_cents,
                existing->method, existing->masked);
      return reply;
    });
  });
}

Result<nlohmann::json> Payments::get(const nlohmann::json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  std::string order_id;
  read_uuid(body, "order_id", order_id, fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return guarded("get", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    auto rows = db_->prepare(
        "SELECT e.entry_id, e.payment_id, e.kind, e.amount_cents, c.method, c.masked, e.created_at "
        "FROM ledger_entries e JOIN charges c ON c.payment_id = e.payment_id "
        "WHERE e.order_id = ? ORDER BY e.created_at, e.rowid");
    rows.bind(1, order_id);
    json entries = json::array();
    std::int64_t charged = 0;
    std::int64_t refunded = 0;
    while (rows.step()) {
      const std::string kind = rows.text(2);
      (kind == "charge" ? charged : refunded) += rows.int64(3);
      entries.push_back({{"entry_id", rows.text(0)},
                         {"payment_id", rows.text(1)},
                         {"kind", kind},
                         {"amount_cents", rows.int64(3)},
                         {"method", rows.text(4)},
                         {"masked", rows.text(5)},
                         {"created_at", rows.text(6)}});
    }
    return json{{"order_id", order_id},
                {"charged_cents", charged},
                {"refunded_cents", refunded},
                {"entries", std::move(entries)}};
  });
}

void Payments::register_commands(messaging::CommandRouter& router,
                                 std::function<void()> after_refund) {
  using messaging::Envelope;
  router.on("payment.validate", [this](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    return validate(e.body);
  });
  router.on("payment.tokenize", [this](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    return tokenize(e.body);
  });
  router.on("payment.charge", [this](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    return charge(e.body, e.idempotency_key);
  });
  router.on("payment.refund", [this, after = std::move(after_refund)](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    Result<json> r = refund(e.body, e.idempotency_key, &e);
    if (after)
      after();
    return r;
  });
  router.on("payment.get", [this](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    return get(e.body);
  });
}

std::vector<OutboxEvent> Payments::pending_events(std::size_t limit) {
  std::lock_guard lock(mu_);
  auto rows = db_->prepare(
      "SELECT id, routing_key, envelope FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT "
      "?");
  rows.bind(1, static_cast<std::int64_t>(limit));
  std::vector<OutboxEvent> events;
  while (rows.step()) {
    events.push_back(
        OutboxEvent{rows.int64(0), rows.text(1), messaging::Envelope::parse(rows.text(2))});
  }
  return events;
}

void Payments::mark_published(std::int64_t id) {
  std::lock_guard lock(mu_);
  db_->prepare("UPDATE outbox SET published_at = ? WHERE id = ?")
      .bind(1, now_iso8601())
      .bind(2, id)
      .step();
}

}  // namespace wonderland::payment
