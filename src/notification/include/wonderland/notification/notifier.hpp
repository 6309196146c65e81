// The heart of the notification service: one domain event in, at most one email out, recorded.
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "wonderland/messaging/envelope.hpp"
#include "wonderland/notification/events.hpp"
#include "wonderland/notification/mailer.hpp"
#include "wonderland/notification/mime.hpp"
#include "wonderland/notification/store.hpp"

namespace wonderland::notification {

struct NotifierOptions {
  /// The From mailbox; its domain also qualifies Message-IDs.
  Mailbox from{"Wonderland Bookstore", "orders@wonderland.local"};
  InterruptedPolicy on_interrupted = InterruptedPolicy::kResend;
};

enum class Outcome {
  kSent,          ///< the email was handed to the mailer and recorded
  kDuplicate,     ///< already delivered before: nothing sent
  kRecordedOnly,  ///< an interrupted earlier attempt was recorded as sent (policy kSkip)
};

/// A rendered notification: the message and what goes into the customer's history.
struct RenderedMail {
  OutgoingMail mail;
  NotificationRecord record;
};

/// Handles events. `handle` follows the consumer contract (consumer.hpp):
///   * returns when the event is dealt with (sent and recorded, or a duplicate): ack;
///   * throws messaging::PoisonMessage when the event can never become an email (invalid, no
///     address, cannot be rendered, or the SMTP server rejected it permanently): dead-letter;
///   * throws anything else when trying again may help (mailer or database unavailable; no email
///     known yet for an order.refunded's customer): retry with backoff, then dead-letter.
/// Not for concurrent use: the service calls it from one consumer thread.
class Notifier {
 public:
  /// `store` and `mailer` must outlive the Notifier.
  Notifier(Store& store, Mailer& mailer, NotifierOptions options);

  Outcome handle(const messaging::Envelope& envelope);

  /// The email for a parsed event, names and address completed from the contacts (throws
  /// InvalidEvent or std::runtime_error as handle would dead-letter or retry).
  RenderedMail render(Event event);

 private:
  /// Sends the claimed delivery, unless it was sent already and only its record failed; records
  /// a failed attempt (PoisonMessage when the rejection is permanent, else rethrows).
  void send_once(const Event& event, const Claim& claim, const RenderedMail& rendered);

  Store& store_;
  Mailer& mailer_;
  NotifierOptions options_;
  std::string domain_;
  /// Deliveries sent whose 'sent' record failed to commit: the retry records them without
  /// sending again (only a crash loses this, and then the InterruptedPolicy applies).
  std::set<std::int64_t> sent_unrecorded_;
};

}  // namespace wonderland::notification
