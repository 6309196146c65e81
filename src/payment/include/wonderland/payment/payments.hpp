// The payment service's core: validates payment methods, turns them into payment tokens, charges
// orders and refunds them, keeping a ledger in SQLite.
//
//   payment::Payments payments({.db_path = "var/payment.db"});
//   Result<nlohmann::json> r = payments.charge(body, idempotency_key);
//
// Commands take the request bodies of docs/commands.md ("payment" section) and return the reply
// body or an Error value; nothing throws across this interface except the constructor.
//
// Guarantees
//   * Card data stays in this service. tokenize keeps the card number, expiry and CVV (or the
//     PayPal address) only sealed with libsodium's crypto_secretbox (XSalsa20-Poly1305, a random
//     nonce per row) under the payment key, and answers a random token bound to the customer;
//     the database holds the token's SHA-256, never the token. The ledger stores card numbers
//     masked to their last four digits; full numbers and CVVs are never logged.
//   * Once a charge is decided (charged, or declined for good) the CVV is discarded: the row is
//     sealed again without it. Tokens never charged expire after `token_ttl` and are deleted by
//     later tokenize calls.
//   * charge and refund are idempotent by the envelope's idempotency key (first outcome recorded
//     in the same transaction as the effect and replayed) and by order_id: an order is charged at
//     most once (charging it again returns the existing charge) and refunded at most once.
//   * Partial refunds (refund_partial) are idempotent by refund_id too, never exceed what is
//     still refundable, and leave the charge charged; a later full refund returns the rest.
//   * Refunding an order that has no charge succeeds with status "nothing_to_refund" and records
//     the order as void, so a charge for it that arrives late (after its compensation) is refused.
//   * A refund that returns money writes an `order.refunded` event to an outbox table in the same
//     transaction; `pending_events` / `mark_published` let the caller publish it after commit
//     (at-least-once; the event keeps its message_id across attempts).
//   * Fault injection (off by default): each charge or refund first waits `latency`, then fails
//     with a retryable `unavailable` with probability `fault_rate`, before anything else.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/common/secret_key.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/messaging/sqlite_idempotency_store.hpp"
#include "wonderland/payment/method.hpp"
#include "wonderland/sqlite/db.hpp"

namespace wonderland::payment {

/// Test card: always declined (failed_precondition "Your card was declined").
inline constexpr const char* kDeclinedCard = "4000000000000002";
/// Test card: declined for insufficient funds (failed_precondition "Insufficient funds").
inline constexpr const char* kInsufficientFundsCard = "4000000000009995";
/// Test PayPal account: always declined (failed_precondition "Your PayPal payment was declined").
inline constexpr const char* kDeclinedPaypal = "declined@example.com";
/// Largest amount one charge may take (one million euros/dollars in cents).
inline constexpr std::int64_t kMaxAmountCents = 100'000'000;

struct Options {
  /// SQLite file (created with its directory when missing), or ":memory:".
  std::string db_path = "var/payment.db";
  /// Share (0..1) of charge and refund calls that fail with a retryable `unavailable`.
  double fault_rate = 0.0;
  /// Delay added to every charge and refund call, before the fault draw.
  std::chrono::milliseconds latency{0};
  /// Seed of the fault draw; unset: seeded from the OS. Set it for reproducible tests.
  std::optional<std::uint64_t> fault_seed;
  /// The key sealing card data; unset: read from `key_file` (created when missing).
  std::shared_ptr<const SecretKey> key;
  /// The key file when `key` is unset; empty: `payment.key` next to `db_path` (for ":memory:",
  /// a random key that lives as long as the Payments).
  std::string key_file;
  /// How long a token that was never charged can be charged.
  std::chrono::seconds token_ttl{3600};
  /// The clock used to check card and token expiry; unset: the system clock.
  std::function<SystemTime()> clock;
  sqlite::Options sqlite;
};

struct ChargeRequest;
struct PartialRefundRequest;

/// An event committed to the outbox and not yet marked published.
struct OutboxEvent {
  std::int64_t id = 0;
  std::string routing_key;
  messaging::Envelope envelope;
};

/// Thread-safe: one database connection guarded by a mutex; latency is waited outside it.
class Payments {
 public:
  /// Opens (and migrates) the ledger; throws on a database error or an option out of range.
  explicit Payments(Options options);
  ~Payments();
  Payments(const Payments&) = delete;
  Payments& operator=(const Payments&) = delete;

  /// `{payment}` -> `{method, masked}`: tokenize's checks without keeping anything;
  /// invalid_argument with fields such as payment.card_number or payment.<unknown key>.
  Result<nlohmann::json> validate(const nlohmann::json& body);
  /// `{customer_id, payment}` -> `{payment_token, method, masked, brand?, last4?}` (brand and
  /// last4 for cards). The same checks as validate, then the details are sealed and kept.
  Result<nlohmann::json> tokenize(const nlohmann::json& body);
  /// `{order_id, customer_id, amount_cents, payment_token}` ->
  /// `{payment_id, order_id, amount_cents, method, masked, status:"charged"}`. invalid_argument
  /// (fields; a token unknown, expired or of another customer is a payment_token field error),
  /// failed_precondition for a declined test card/account, for an order already refunded or
  /// void; unavailable for an injected fault.
  Result<nlohmann::json> charge(const nlohmann::json& body, const std::string& idempotency_key);
  /// `{order_id}` -> `{order_id, refunded_cents, status:"refunded"|"nothing_to_refund"}`: refunds
  /// what partial refunds left of the charge (nothing_to_refund when that is nothing, or there
  /// is no charge). `cause`, when given, is the request: the event is correlated with it.
  Result<nlohmann::json> refund(const nlohmann::json& body, const std::string& idempotency_key,
                                const messaging::Envelope* cause = nullptr);
  /// `{order_id, refund_id, amount_cents}` -> `{order_id, refund_id, refunded_cents,
  /// remaining_cents, status:"refunded"}`: a `refund` ledger entry, once per refund_id (a repeat
  /// replies the same; the same refund_id with another order or amount is a conflict). not_found
  /// without a charge; failed_precondition, with the figures, when the charge was refunded in
  /// full or the amount is above what is still refundable. No event is published.
  Result<nlohmann::json> refund_partial(const nlohmann::json& body,
                                        const std::string& idempotency_key);
  /// `{order_id}` -> `{order_id, charged_cents, refunded_cents, remaining_cents,
  /// entries:[{entry_id, payment_id, kind: charge|refund, amount_cents, method, masked,
  /// created_at, refund_id?}]}` (empty for unknown orders; refund_id for partial refunds).
  Result<nlohmann::json> get(const nlohmann::json& body);

  /// Registers the six commands of protocol.hpp on `router` (this must outlive the router's use).
  /// `after_refund` runs after every refund command (e.g. to publish the outbox).
  void register_commands(messaging::CommandRouter& router, std::function<void()> after_refund = {});

  /// Up to `limit` outbox events not yet published, oldest first.
  std::vector<OutboxEvent> pending_events(std::size_t limit = 100);
  /// Marks an outbox event published.
  void mark_published(std::int64_t id);

 private:
  std::optional<Error> injected_fault();
  SystemTime now() const;
  /// One charge, deduplicated by the caller (who holds mu_). A declined token's row goes to
  /// `declined_sealed`, for discarding its CVV once the refusal is final.
  Result<nlohmann::json> charge_once(const ChargeRequest& request,
                                     std::optional<std::string>& declined_sealed);
  /// One refund, deduplicated by the caller (who holds mu_).
  Result<nlohmann::json> refund_once(const std::string& order_id, const messaging::Envelope* cause);
  /// One partial refund, deduplicated by the caller (who holds mu_).
  Result<nlohmann::json> refund_partial_once(const PartialRefundRequest& request);

  Options options_;
  std::shared_ptr<const SecretKey> key_;
  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  std::unique_ptr<messaging::SqliteIdempotencyStore> idempotency_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
};

}  // namespace wonderland::payment
