// What the payment service speaks on the broker (docs/commands.md, section "payment"), for the
// service and for its callers; header-only (target wonderland::payment_protocol), so a caller
// does not link the service.
//
// Commands: RPC on the durable queue `payment.commands` (`<prefix>payment.commands` for a named
// system), envelope type = the command:
//   * `payment.validate` {payment: PaymentMethod} -> {method, masked}
//   * `payment.tokenize` {customer_id, payment: PaymentMethod} -> TokenizeReply
//   * `payment.charge` {order_id, customer_id, amount_cents, payment_token} -> ChargeReply
//   * `payment.refund` {order_id} -> RefundReply (what partial refunds left)
//   * `payment.refund_partial` {order_id, refund_id, amount_cents} -> PartialRefundReply, once
//     per refund_id
//   * `payment.get` {order_id} -> LedgerReply
// PaymentMethod is {method: visa|mastercard|paypal, card_number?, expiry?, cvv?, paypal_email?}
// (method.hpp). Errors are Error values; invalid_argument names the wrong fields (`order_id`,
// `customer_id`, `amount_cents`, `payment_token`, `refund_id`, `payment.<field>`).
// Events out: `order.refunded` on `wonderland.events` (routing key = type), body RefundedEvent,
// published through an outbox after the refund committed (at least once); a partial refund
// publishes nothing (its caller announces it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/messaging/names.hpp"

namespace wonderland::payment {

/// The service's name: in workflow definitions (`"service": "payment"`), as the source of its
/// events, and in its queue's name.
inline constexpr const char* kService = "payment";
/// The command queue.
inline const messaging::QueueName kCommandQueue{"payment.commands"};

/// The command names (envelope types of the requests).
namespace commands {
inline constexpr const char* kValidate = "payment.validate";
inline constexpr const char* kTokenize = "payment.tokenize";
inline constexpr const char* kCharge = "payment.charge";
inline constexpr const char* kRefund = "payment.refund";
inline constexpr const char* kGet = "payment.get";
inline constexpr const char* kRefundPartial = "payment.refund_partial";
/// Every command above.
inline constexpr const char* kAll[] = {kValidate, kTokenize, kCharge,
                                       kRefund,   kGet,      kRefundPartial};
}  // namespace commands

/// The routing key (and envelope type) of the event a refund that returned money publishes.
inline constexpr const char* kRefundedEvent = "order.refunded";

/// Reply of `payment.tokenize`; brand and last4 for cards only.
struct TokenizeReply {
  std::string payment_token;  ///< 64 hex digits, bound to the customer
  std::string method;         ///< visa | mastercard | paypal
  std::string masked;         ///< "**** **** **** 4242" or "j***@example.com"
  std::optional<std::string> brand;
  std::optional<std::string> last4;
};

inline void to_json(nlohmann::json& j, const TokenizeReply& r) {
  j = nlohmann::json{
      {"payment_token", r.payment_token}, {"method", r.method}, {"masked", r.masked}};
  if (r.brand)
    j["brand"] = *r.brand;
  if (r.last4)
    j["last4"] = *r.last4;
}

/// Reply of `payment.charge`: the order's one charge (`status` is always "charged").
struct ChargeReply {
  std::string payment_id;
  std::string order_id;
  std::int64_t amount_cents = 0;
  std::string method;
  std::string masked;
};

inline void to_json(nlohmann::json& j, const ChargeReply& r) {
  j = nlohmann::json{
      {"payment_id", r.payment_id}, {"order_id", r.order_id}, {"amount_cents", r.amount_cents},
      {"method", r.method},         {"masked", r.masked},     {"status", "charged"}};
}

/// Reply of `payment.refund`.
struct RefundReply {
  static constexpr const char* kRefunded = "refunded";
  static constexpr const char* kNothingToRefund = "nothing_to_refund";

  std::string order_id;
  std::int64_t refunded_cents = 0;
  std::string status;  ///< kRefunded or kNothingToRefund
};

inline void to_json(nlohmann::json& j, const RefundReply& r) {
  j = nlohmann::json{
      {"order_id", r.order_id}, {"refunded_cents", r.refunded_cents}, {"status", r.status}};
}

/// Longest refund_id of `payment.refund_partial`.
inline constexpr std::size_t kMaxRefundIdLength = 200;

/// Reply of `payment.refund_partial`: the refund of `refund_id` (its amount, and what was still
/// refundable after it; a repeat replies the same).
struct PartialRefundReply {
  std::string order_id;
  std::string refund_id;
  std::int64_t refunded_cents = 0;
  std::int64_t remaining_cents = 0;
};

inline void to_json(nlohmann::json& j, const PartialRefundReply& r) {
  j = nlohmann::json{{"order_id", r.order_id},
                     {"refund_id", r.refund_id},
                     {"refunded_cents", r.refunded_cents},
                     {"remaining_cents", r.remaining_cents},
                     {"status", RefundReply::kRefunded}};
}

/// Body of the `order.refunded` event.
struct RefundedEvent {
  std::string order_id;
  std::string customer_id;
  std::int64_t refunded_cents = 0;
};

inline void to_json(nlohmann::json& j, const RefundedEvent& e) {
  j = nlohmann::json{{"order_id", e.order_id},
                     {"customer_id", e.customer_id},
                     {"refunded_cents", e.refunded_cents}};
}

/// One line of an order's ledger.
struct LedgerEntry {
  std::string entry_id;
  std::string payment_id;
  std::string kind;  ///< charge | refund
  std::int64_t amount_cents = 0;
  std::string method;
  std::string masked;
  std::string created_at;
  std::optional<std::string> refund_id;  ///< a partial refund's (payment.refund_partial)
};

inline void to_json(nlohmann::json& j, const LedgerEntry& e) {
  j = nlohmann::json{
      {"entry_id", e.entry_id},         {"payment_id", e.payment_id}, {"kind", e.kind},
      {"amount_cents", e.amount_cents}, {"method", e.method},         {"masked", e.masked},
      {"created_at", e.created_at}};
  if (e.refund_id)
    j["refund_id"] = *e.refund_id;
}

/// Reply of `payment.get`: an order's ledger, oldest entry first (empty for an unknown order).
/// `remaining_cents` is what is still refundable (0 once the charge is refunded in full).
struct LedgerReply {
  std::string order_id;
  std::int64_t charged_cents = 0;
  std::int64_t refunded_cents = 0;
  std::int64_t remaining_cents = 0;
  std::vector<LedgerEntry> entries;
};

inline void to_json(nlohmann::json& j, const LedgerReply& r) {
  j = nlohmann::json{{"order_id", r.order_id},
                     {"charged_cents", r.charged_cents},
                     {"refunded_cents", r.refunded_cents},
                     {"remaining_cents", r.remaining_cents},
                     {"entries", r.entries}};
}

}  // namespace wonderland::payment
