// The domain events the notification service consumes, validated, and the email each one
// becomes (docs/commands.md, section "notification").
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "wonderland/common/time.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/notification/invoice.hpp"
#include "wonderland/notification/mime.hpp"

namespace wonderland::notification {

/// An event that cannot be turned into an email (unknown type, missing or mistyped field, no
/// address to send to). Its message says why; the service dead-letters the event with it.
class InvalidEvent : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class Kind {
  kWelcome,
  kOrderConfirmed,
  kOrderFailed,
  kOrderRefunded,
  kReturnRequested,
  kReturnRefunded,
  kReturnExpired,
};

/// The kind's name as stored and listed: `welcome`, `order_confirmed`, `order_failed`,
/// `order_refunded`, `return_requested`, `return_refunded`, `return_expired`.
const char* kind_name(Kind kind);

/// The event types (= routing keys on the events exchange) the service subscribes to.
const std::vector<std::string>& consumed_event_types();

/// What an event says, validated. Text fields are valid single-line UTF-8 (the reason may hold
/// line breaks).
struct Event {
  Kind kind = Kind::kWelcome;
  std::string type;             ///< e.g. `order.confirmed`
  std::string message_id;       ///< the envelope's
  std::string idempotency_key;  ///< the envelope's; usually empty for events
  SystemTime occurred_at{};     ///< the envelope's timestamp
  std::string customer_id;      ///< a UUID
  std::string order_id;         ///< empty for customer.signed_up; the returned order's for return.*
  std::string return_id;        ///< return.* (a UUID)
  std::string email;            ///< empty only for order.refunded without one
  std::string first_name;
  std::string last_name;
  std::string username;
  std::vector<InvoiceLine> items;   ///< order.confirmed; the returned lines of return.requested
                                    ///< and return.refunded (isbn set, line total = refund)
  std::int64_t total_cents = 0;     ///< order.confirmed
  SystemTime confirmed_at{};        ///< order.confirmed (falls back to occurred_at)
  std::string reason;               ///< order.failed
  std::int64_t refunded_cents = 0;  ///< order.refunded
  std::int64_t refund_cents = 0;    ///< return.requested, return.refunded
  SystemTime parcel_deadline{};     ///< return.requested, return.expired

  /// Whether this is one of the return.* events.
  bool is_return() const;
  /// The business identity of the notification: `<type>:<order_id>` for order events,
  /// `<type>:<return_id>` for return events, `<type>:<customer_id>` for customer.signed_up. One
  /// email per key, whatever the message id.
  std::string key() const;
  /// `First Last`, trimmed; empty when neither is known.
  std::string full_name() const;
};

/// Validates an event envelope. Required: a JSON object body; `customer_id` (UUID) always;
/// `email` (a valid address) for customer.signed_up, order.confirmed and order.failed (optional
/// for order.refunded, whose publisher does not know it); `order_id` (1–64 characters of
/// [A-Za-z0-9._-]) for order events; for order.confirmed a non-empty `items` array (or `lines`)
/// of `{title, quantity ≥ 1, unit_price_cents ≥ 0, line_total_cents?}`, `total_cents?`
/// (default: the sum of the lines) and `confirmed_at?` (ISO-8601); for order.refunded
/// `refunded_cents` ≥ 1. Return events (docs/commands.md) need `return_id` (UUID), `order_id`,
/// `email`; return.requested and return.refunded a non-empty `lines` array of `{isbn, title?,
/// quantity ≥ 1, unit_price_cents ≥ 0, refund_cents?}` (refund default: quantity × unit price)
/// and `refund_cents?` (default: the sum of the lines); return.requested and return.expired
/// `parcel_deadline` (ISO-8601). Optional: `first_name`, `last_name`, `username`, `reason`.
/// Throws InvalidEvent naming the problem.
Event parse_event(const messaging::Envelope& envelope);

/// The rendered content of one notification.
struct Content {
  std::string subject;
  std::string text;  ///< plain-text body (also what the customer's notification list shows)
  std::string html;  ///< HTML body; every value from the event is HTML-escaped
  std::optional<Attachment> attachment;  ///< the PDF invoice or credit note
};

/// Renders the notification for `event`: the welcome message; the order confirmation with its
/// lines, total and `invoice-<order_id>.pdf`; the failure with its reason; the refund with its
/// amount; the return requested (its lines, the refund to come and the parcel deadline), refunded
/// (with `credit-note-<return_id>.pdf`) or expired (the deadline passed). Amounts are US dollars
/// (format_money). Throws std::runtime_error when the PDF cannot be generated.
Content compose(const Event& event);

}  // namespace wonderland::notification
