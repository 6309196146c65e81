// The notification service: consumes customer, order and return events from the events exchange,
// sends one email per event, and serves each customer's notification history over RPC.
//
//   runtime::Service service("notification");
//   notification::Server server(service.connection(), notification::Config::from_env());
//   service.wait();
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/names.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/notification/mailer.hpp"
#include "wonderland/notification/notifier.hpp"
#include "wonderland/notification/protocol.hpp"
#include "wonderland/notification/store.hpp"

namespace wonderland::notification {

struct Config {
  std::string db_path = "var/notification.db";
  /// The topic exchange the events come from; tests use one of their own.
  messaging::ExchangeName exchange = messaging::exchanges::kEvents;
  /// The durable queue of events; tests use a unique name.
  messaging::QueueName events_queue = kEventsQueue;
  /// The RPC command queue.
  messaging::QueueName commands_queue = kCommandQueue;
  /// Delivery attempts per event (broker-level retry with backoff) before it is dead-lettered.
  int max_attempts = 10;
  NotifierOptions notifier;
  /// SMTP delivery when set; otherwise `.eml` files in `outbox_dir`.
  std::optional<SmtpOptions> smtp;
  std::string outbox_dir = "var/outbox";

  /// Reads WONDERLAND_NOTIFICATION_DB (default $WONDERLAND_VAR_DIR/notification.db, with
  /// WONDERLAND_VAR_DIR defaulting to `var`), WONDERLAND_MAIL_FROM, WONDERLAND_SMTP_HOST,
  /// WONDERLAND_SMTP_PORT (25), WONDERLAND_SMTP_USER, WONDERLAND_SMTP_PASSWORD,
  /// WONDERLAND_SMTP_STARTTLS (false), WONDERLAND_SMTP_TIMEOUT_MS (60000),
  /// WONDERLAND_OUTBOX_DIR (default $WONDERLAND_VAR_DIR/outbox),
  /// WONDERLAND_NOTIFICATION_MAX_ATTEMPTS (10) and WONDERLAND_NOTIFICATION_ON_INTERRUPTED
  /// (`resend` or `skip`, default resend). Throws std::invalid_argument on bad values.
  static Config from_env();
};

/// `notification.list` (protocol.hpp) {customer_id, limit? (1–100, default 50)} →
/// {notifications: [{notification_id, kind, subject, order_id (null when none), email, body,
/// created_at}]}, newest first. invalid_argument with `fields` when customer_id is not a UUID or
/// limit is out of range. An unknown customer simply has no notifications.
Result<nlohmann::json> list_notifications(Store& store, const nlohmann::json& body);

/// Owns the store, the mailer, the events consumer and the RPC server.
class Server {
 public:
  /// Opens the database, declares the exchange, the events queue and its bindings (one per
  /// consumed event type) and the command queue, and starts consuming. Throws on failure.
  Server(messaging::Connection& connection, Config config);
  /// Stops consuming (the event in progress finishes first).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Store& store() { return *store_; }

 private:
  Config config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Mailer> mailer_;
  std::unique_ptr<Notifier> notifier_;
  messaging::CommandRouter router_;
  messaging::ConsumerHandle events_;
  std::unique_ptr<messaging::RpcServer> rpc_;
};

}  // namespace wonderland::notification
