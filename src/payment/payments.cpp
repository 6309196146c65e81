#include "wonderland/payment/payments.hpp"

#include <sodium.h>

#include <filesystem>
#include <stdexcept>
#include <thread>
#include <utility>

#include "ledger.hpp"
#include "requests.hpp"
#include "sealing.hpp"
#include "tokens.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/messaging/idempotency.hpp"
#include "wonderland/payment/protocol.hpp"
#include "wonderland/sqlite/guarded.hpp"

namespace wonderland::payment {
namespace {

using nlohmann::json;

/// The outcome of the payment provider for a validated method (the simulated provider).
std::optional<Error> provider_decision(const PaymentMethod& pm) {
  if (pm.method == Method::kPaypal) {
    if (pm.paypal_email == kDeclinedPaypal)
      return Error::of(codes::kFailedPrecondition, "Your PayPal payment was declined");
    return std::nullopt;
  }
  if (pm.card_number == kDeclinedCard)
    return Error::of(codes::kFailedPrecondition, "Your card was declined");
  if (pm.card_number == kInsufficientFundsCard)
    return Error::of(codes::kFailedPrecondition, "Insufficient funds");
  return std::nullopt;
}

std::shared_ptr<const SecretKey> resolve_key(const Options& options) {
  if (options.key)
    return options.key;
  if (!options.key_file.empty())
    return std::make_shared<const SecretKey>(SecretKey::load_or_create(options.key_file));
  if (options.db_path.empty() || options.db_path == ":memory:")
    return std::make_shared<const SecretKey>(SecretKey::random());
  return std::make_shared<const SecretKey>(SecretKey::load_or_create(
      std::filesystem::path(options.db_path).parent_path() / "payment.key"));
}

void check(const Options& options) {
  if (!(options.fault_rate >= 0.0 && options.fault_rate <= 1.0))
    throw std::invalid_argument("payment fault_rate must be between 0 and 1");
  if (options.latency.count() < 0)
    throw std::invalid_argument("payment latency must not be negative");
  if (options.token_ttl.count() < 1)
    throw std::invalid_argument("payment token_ttl must be at least 1 s");
}

/// The `order.refunded` event of a refund of `amount_cents`, correlated with its request when
/// there is one.
messaging::Envelope refunded_event(const ledger::Charge& charge, std::int64_t amount_cents,
                                   const messaging::Envelope* cause) {
  const json body = RefundedEvent{charge.reply.order_id, charge.customer_id, amount_cents};
  messaging::Envelope event =
      cause != nullptr ? messaging::Envelope::caused_by(*cause, kRefundedEvent, body, kService)
                       : messaging::Envelope::make(kRefundedEvent, body, kService);
  if (event.correlation_id.empty())
    event.correlation_id = charge.reply.order_id;
  return event;
}

}  // namespace

Payments::Payments(Options options) : options_(std::move(options)) {
  check(options_);
  if (options_.fault_seed) {
    rng_.seed(*options_.fault_seed);
  } else {
    std::random_device rd;
    rng_.seed((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  }
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium could not be initialised");
  key_ = resolve_key(options_);
  db_ = std::make_unique<sqlite::Db>(options_.db_path, options_.sqlite);
  // Deleted and rewritten rows (sealed details, CVVs discarded) are overwritten, not left in
  // free pages.
  db_->exec("PRAGMA secure_delete=ON");
  ledger::migrate(*db_);
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
  return Error::of(codes::kUnavailable,
                   "the payment provider is unavailable (injected fault); try again");
}

Result<nlohmann::json> Payments::charge(const nlohmann::json& body,
                                        const std::string& idempotency_key) {
  if (auto fault = injected_fault())
    return *fault;
  Result<ChargeRequest> request = read_charge_request(body);
  if (!request.ok())
    return request.error();

  return sqlite::guarded(ledger::store(), "charge", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    std::optional<std::string> declined_sealed;  // the token's row, when its charge was declined
    Result<json> outcome = messaging::deduplicated(
        *idempotency_, idempotency_key, [&] { return charge_once(*request, declined_sealed); });
    // A final decline was rolled back with the rest of the refused command: discard now.
    if (declined_sealed && !outcome.ok() && !outcome.error().retryable)
      tokens::discard_cvv(*db_, *key_, request->token_hash, *declined_sealed);
    return outcome;
  });
}

Result<nlohmann::json> Payments::charge_once(const ChargeRequest& request,
                                             std::optional<std::string>& declined_sealed) {
  const std::string& order_id = request.order_id;
  if (auto existing = ledger::load_charge(*db_, order_id)) {
    if (existing->status == "refunded") {
      return Error::of(codes::kFailedPrecondition,
                       "The payment for order " + order_id + " was refunded");
    }
    return json(existing->reply);
  }
  if (ledger::is_void(*db_, order_id)) {
    return Error::of(codes::kFailedPrecondition,
                     "Order " + order_id + " was cancelled (refunded before it was charged)");
  }
  Result<tokens::Opened> token =
      tokens::open(*db_, *key_, request.token_hash, request.customer_id, order_id, now());
  if (!token.ok())
    return token.error();
  const std::string method = to_string(token->details.method);
  std::optional<Error> declined = provider_decision(token->details);
  wipe(token->details);
  if (declined) {
    declined_sealed = token->sealed;
    log::info("order {}: {} {} declined: {}", order_id, method, token->masked, declined->message);
    return *declined;
  }
  const ledger::Charge c{
      ChargeReply{new_uuid(), order_id, request.amount_cents, method, token->masked},
      request.customer_id, "charged"};
  ledger::insert_charge(*db_, c, now_iso8601());
  tokens::discard_cvv(*db_, *key_, request.token_hash, token->sealed);  // in the transaction
  log::info("order {}: charged {} cents to {} {}", order_id, request.amount_cents, method,
            token->masked);
  return json(c.reply);
}

Result<nlohmann::json> Payments::refund(const nlohmann::json& body,
                                        const std::string& idempotency_key,
                                        const messaging::Envelope* cause) {
  if (auto fault = injected_fault())
    return *fault;
  Result<std::string> order_id = read_order_id(body);
  if (!order_id.ok())
    return order_id.error();

  return sqlite::guarded(ledger::store(), "refund", [&] {
    std::lock_guard lock(mu_);
    return messaging::deduplicated(*idempotency_, idempotency_key,
                                   [&] { return refund_once(*order_id, cause); });
  });
}

Result<nlohmann::json> Payments::refund_once(const std::string& order_id,
                                             const messaging::Envelope* cause) {
  auto existing = ledger::load_charge(*db_, order_id);
  const std::string at = now_iso8601();
  if (!existing) {
    ledger::mark_void(*db_, order_id, at);
    log::info("order {}: nothing to refund", order_id);
    return json(RefundReply{order_id, 0, RefundReply::kNothingToRefund});
  }
  const ledger::Refunds refunds = ledger::refunds(*db_, *existing);
  // What this refund returns: the charge less its partial refunds (the same on a repeat, where
  // the full refund's entry is the only refund that is not a partial one).
  const std::int64_t amount = existing->status == "refunded"
                                  ? refunds.total_cents - refunds.partial_cents
                                  : existing->reply.amount_cents - refunds.total_cents;
  const json reply = RefundReply{
      order_id, amount, amount > 0 ? RefundReply::kRefunded : RefundReply::kNothingToRefund};
  if (existing->status == "refunded")
    return reply;  // refunded once already

  ledger::refund_charge(*db_, *existing, amount, at);
  if (amount == 0) {
    log::info("order {}: nothing left to refund after partial refunds", order_id);
    return reply;
  }
  ledger::enqueue(*db_, kRefundedEvent, refunded_event(*existing, amount, cause), at);
  log::info("order {}: refunded {} cents to {} {}", order_id, amount, existing->reply.method,
            existing->reply.masked);
  return reply;
}

Result<nlohmann::json> Payments::refund_partial(const nlohmann::json& body,
                                                const std::string& idempotency_key) {
  if (auto fault = injected_fault())
    return *fault;
  Result<PartialRefundRequest> request = read_partial_refund_request(body);
  if (!request.ok())
    return request.error();

  return sqlite::guarded(ledger::store(), "refund_partial", [&] {
    std::lock_guard lock(mu_);
    return messaging::deduplicated(*idempotency_, idempotency_key,
                                   [&] { return refund_partial_once(*request); });
  });
}

Result<nlohmann::json> Payments::refund_partial_once(const PartialRefundRequest& request) {
  const std::string& order_id = request.order_id;
  if (auto done = ledger::load_partial_refund(*db_, request.refund_id)) {
    if (done->order_id != order_id || done->amount_cents != request.amount_cents) {
      return Error::of(codes::kConflict, "Refund " + request.refund_id + " was made already, of " +
                                             std::to_string(done->amount_cents) +
                                             " cents for order " + done->order_id);
    }
    return json(
        PartialRefundReply{order_id, done->refund_id, done->amount_cents, done->remaining_cents});
  }
  auto existing = ledger::load_charge(*db_, order_id);
  if (!existing)
    return Error::of(codes::kNotFound, "No payment for order " + order_id);
  const ledger::Refunds refunds = ledger::refunds(*db_, *existing);
  const std::int64_t charged = existing->reply.amount_cents;
  if (existing->status == "refunded") {
    return Error::of(codes::kFailedPrecondition, "The payment for order " + order_id +
                                                     " was refunded in full (" +
                                                     std::to_string(refunds.total_cents) + " of " +
                                                     std::to_string(charged) + " cents)");
  }
  const std::int64_t remaining = charged - refunds.total_cents;
  if (request.amount_cents > remaining) {
    return Error::of(codes::kFailedPrecondition,
                     "Cannot refund " + std::to_string(request.amount_cents) + " cents for order " +
                         order_id + ": only " + std::to_string(remaining) + " of the " +
                         std::to_string(charged) + " cents charged are still refundable");
  }
  const ledger::PartialRefund refund{request.refund_id, order_id, request.amount_cents,
                                     remaining - request.amount_cents};
  ledger::insert_partial_refund(*db_, *existing, refund, now_iso8601());
  log::info("order {}: refund {} of {} cents to {} {} ({} cents left)", order_id, request.refund_id,
            request.amount_cents, existing->reply.method, existing->reply.masked,
            refund.remaining_cents);
  return json(
      PartialRefundReply{order_id, refund.refund_id, refund.amount_cents, refund.remaining_cents});
}

Result<nlohmann::json> Payments::get(const nlohmann::json& body) {
  Result<std::string> order_id = read_order_id(body);
  if (!order_id.ok())
    return order_id.error();
  return sqlite::guarded(ledger::store(), "get", [&]() -> Result<json> {
    std::lock_guard lock(mu_);
    return json(ledger::entries(*db_, *order_id));
  });
}

void Payments::register_commands(messaging::CommandRouter& router,
                                 std::function<void()> after_refund) {
  using messaging::Envelope;
  router.on(commands::kValidate, [this](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    return validate(e.body);
  });
  router.on(commands::kTokenize, [this](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    return tokenize(e.body);
  });
  router.on(commands::kCharge, [this](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    return charge(e.body, e.idempotency_key);
  });
  router.on(commands::kRefund, [this, after = std::move(after_refund)](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    Result<json> r = refund(e.body, e.idempotency_key, &e);
    if (after)
      after();
    return r;
  });
  router.on(commands::kRefundPartial, [this](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    return refund_partial(e.body, e.idempotency_key);
  });
  router.on(commands::kGet, [this](const Envelope& e) {
    log::CorrelationScope scope(e.correlation_id);
    return get(e.body);
  });
}

std::vector<OutboxEvent> Payments::pending_events(std::size_t limit) {
  std::lock_guard lock(mu_);
  return ledger::pending(*db_, limit);
}

void Payments::mark_published(std::int64_t id) {
  std::lock_guard lock(mu_);
  ledger::mark_published(*db_, id, now_iso8601());
}

}  // namespace wonderland::payment
