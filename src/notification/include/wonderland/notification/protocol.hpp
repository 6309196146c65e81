// What the notification service speaks on the broker (docs/commands.md, section
// "notification"), for the service and for its callers; header-only (target
// wonderland::notification_protocol), so a caller does not link the service.
//
// In
//   * Events on the topic exchange `wonderland.events`, routing key = event type, consumed from
//     the durable queue `notification.events` (one binding per type of events::kAll); each
//     becomes one email (events.hpp says which body fields each type needs).
// Commands
//   * RPC on the durable queue `notification.commands`, envelope type `notification.list`:
//     {customer_id, limit? (1..kMaxListLimit, default kDefaultListLimit)} -> ListReply, newest
//     first; invalid_argument naming `customer_id` (not a UUID) or `limit`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "wonderland/messaging/names.hpp"
#include "wonderland/payment/protocol.hpp"

namespace wonderland::notification {

/// The service's name, as in its queues' names.
inline constexpr const char* kService = "notification";
/// The command queue.
inline const messaging::QueueName kCommandQueue{"notification.commands"};
/// The durable queue of the events it consumes.
inline const messaging::QueueName kEventsQueue{"notification.events"};

/// The command names (envelope types of the requests).
namespace commands {
inline constexpr const char* kList = "notification.list";
/// Every command above.
inline constexpr const char* kAll[] = {kList};
}  // namespace commands

/// The routing keys (= envelope types) of the events that become emails, with their publishers.
namespace events {
inline constexpr const char* kCustomerSignedUp = "customer.signed_up";  ///< customer
inline constexpr const char* kOrderConfirmed = "order.confirmed";       ///< purchase workflow
inline constexpr const char* kOrderFailed = "order.failed";             ///< purchase workflow
inline constexpr const char* kOrderRefunded = payment::kRefundedEvent;  ///< payment
inline constexpr const char* kReturnRequested = "return.requested";     ///< return workflow
inline constexpr const char* kReturnRefunded = "return.refunded";       ///< return workflow
inline constexpr const char* kReturnExpired = "return.expired";         ///< return workflow
/// Every event above.
inline constexpr const char* kAll[] = {kCustomerSignedUp, kOrderConfirmed,  kOrderFailed,
                                       kOrderRefunded,    kReturnRequested, kReturnRefunded,
                                       kReturnExpired};
}  // namespace events

/// Default and largest `limit` of notification.list.
inline constexpr int kDefaultListLimit = 50;
inline constexpr int kMaxListLimit = 100;

/// One sent notification, as notification.list shows it.
struct ListedNotification {
  std::string notification_id;
  std::string kind;  ///< welcome | order_confirmed | order_failed | order_refunded |
                     ///< return_requested | return_refunded | return_expired
  std::string subject;
  std::string order_id;  ///< the order (of the return); empty (null on the wire) for welcome
  std::string email;
  std::string body;        ///< the plain-text body
  std::string created_at;  ///< when it was sent
};

inline void to_json(nlohmann::json& j, const ListedNotification& n) {
  j = nlohmann::json{
      {"notification_id", n.notification_id},
      {"kind", n.kind},
      {"subject", n.subject},
      {"order_id", n.order_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(n.order_id)},
      {"email", n.email},
      {"body", n.body},
      {"created_at", n.created_at}};
}

/// Reply of notification.list.
struct ListReply {
  std::vector<ListedNotification> notifications;
};

inline void to_json(nlohmann::json& j, const ListReply& r) {
  j = nlohmann::json{{"notifications", r.notifications}};
}

}  // namespace wonderland::notification
