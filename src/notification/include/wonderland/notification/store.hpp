// The notification service's own SQLite database: which events have been delivered (the
// deduplication record), the per-customer notification history, and the contact details learnt
// from events.
//
// Delivery protocol, per event (one email per event even when it is redelivered):
//   1. claim(keys)       — in one transaction: look for a delivery with the event's message_id,
//                          its idempotency_key (when set) or its business key; decide; record
//                          the delivery as 'sending'.
//   2. send the email    — only when the claim says so.
//   3. mark_sent(...)    — in one transaction: the delivery becomes 'sent' and the notification
//                          is added to the customer's history. Only then is the event acked.
//      mark_failed(...)  — when sending failed: the next attempt sends again.
// A 'sending' delivery found by claim() means an earlier attempt was interrupted between
// sending and recording (the process died): whether the email went out is unknown, and the
// InterruptedPolicy decides.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/sqlite/db.hpp"

namespace wonderland::notification {

/// What to do with an event whose earlier delivery was interrupted after it was claimed.
enum class InterruptedPolicy {
  /// Send again (at-least-once): a lost invoice is worse than a duplicate, and the resent email
  /// carries the same Message-ID, by which mail clients recognise the duplicate. The default.
  kResend,
  /// Assume it was sent (at-most-once): record it as sent without sending.
  kSkip,
};

/// Parses `resend` or `skip`; throws std::invalid_argument otherwise.
InterruptedPolicy parse_interrupted_policy(const std::string& text);

/// The keys that identify an event's delivery. Any of them matching an earlier delivery makes
/// the event a duplicate.
struct DeliveryKeys {
  std::string message_id;       ///< the event envelope's message_id (required)
  std::string idempotency_key;  ///< the envelope's idempotency_key; empty when not set
  std::string event_key;  ///< the business key (Event::key), e.g. `order.confirmed:<order id>`
  std::string event_type;
};

enum class Decision {
  kSend,         ///< first attempt, or a retry after a failed send: send it
  kResend,       ///< interrupted earlier and the policy is kResend: send it again
  kAlreadySent,  ///< a duplicate: do nothing
  kRecordOnly,   ///< interrupted earlier and the policy is kSkip: record it, do not send
};

struct Claim {
  Decision decision = Decision::kSend;
  std::int64_t delivery_id = 0;  ///< the delivery row to pass to mark_sent / mark_failed
  int attempts = 0;              ///< sending attempts so far, this one included
};

/// One entry of a customer's notification history.
struct NotificationRecord {
  std::string notification_id;  ///< UUID
  std::string customer_id;
  std::string kind;  ///< kind_name(): welcome, order_confirmed, …
  std::string subject;
  std::string order_id;          ///< empty when the notification is not about an order
  std::string email;             ///< the address it was sent to
  std::string body;              ///< the plain-text body
  std::string created_at;        ///< UTC ISO-8601, when it was recorded as sent
  std::string event_message_id;  ///< the event it came from
};

/// A customer's address and name, as last seen in an event.
struct Contact {
  std::string customer_id;
  std::string email;
  std::string first_name;
  std::string last_name;
};

/// The state of a delivery, for tests and diagnostics.
struct DeliveryState {
  std::string message_id;
  std::string status;  ///< sending, sent or failed
  int attempts = 0;
  std::string last_error;
};

/// The database. Thread-safe: every method takes an internal mutex (the events consumer and the
/// RPC handlers share one Store). Meant for one process per database file.
class Store {
 public:
  /// Opens (creating when missing, with its parent folder) the database at `path` and creates
  /// the schema. Throws sqlite::SqliteError or std::filesystem errors.
  explicit Store(const std::string& path);

  /// Step 1 of the protocol (see above): decides, and records the delivery as 'sending' unless
  /// it is already sent. `keys.message_id` and `keys.event_key` must not be empty.
  Claim claim(const DeliveryKeys& keys, InterruptedPolicy policy);
  /// Step 3 on success: marks the delivery sent and appends `record` to the customer's history
  /// (its notification_id and created_at are filled in when empty), in one transaction. Doing it
  /// twice for the same delivery adds nothing.
  void mark_sent(std::int64_t delivery_id, NotificationRecord record);
  /// Step 3 on failure: marks the delivery failed with `error`, so that the next claim sends.
  void mark_failed(std::int64_t delivery_id, const std::string& error);

  /// The delivery recorded under `message_id`, if any.
  std::optional<DeliveryState> delivery(const std::string& message_id);

  /// The customer's notifications, newest first, at most `limit`.
  std::vector<NotificationRecord> list(const std::string& customer_id, int limit);

  /// Records the customer's email and names (an empty name keeps the one known before).
  void remember_contact(const Contact& contact);
  std::optional<Contact> contact(const std::string& customer_id);

 private:
  std::mutex mu_;
  sqlite::Db db_;
};

}  // namespace wonderland::notification
