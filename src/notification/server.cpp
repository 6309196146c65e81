#include "wonderland/notification/server.hpp"

#include <filesystem>

#include "wonderland/common/env.hpp"
#include "wonderland/common/request_fields.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/notification/protocol.hpp"

namespace wonderland::notification {
namespace {

using nlohmann::json;

std::string absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

}  // namespace

Config Config::from_env() {
  Config c;
  const std::filesystem::path var_dir = env::get("WONDERLAND_VAR_DIR", "var");
  c.db_path =
      absolute(env::get("WONDERLAND_NOTIFICATION_DB", (var_dir / "notification.db").string()));
  c.outbox_dir = absolute(env::get("WONDERLAND_OUTBOX_DIR", (var_dir / "outbox").string()));
  c.commands_queue =
      messaging::QueueName{env::get("WONDERLAND_NOTIFICATION_QUEUE", c.commands_queue.str())};
  c.events_queue =
      messaging::QueueName{env::get("WONDERLAND_NOTIFICATION_EVENTS_QUEUE", c.events_queue.str())};
  c.notifier.from = parse_mailbox(
      env::get("WONDERLAND_MAIL_FROM", "Wonderland Bookstore <orders@wonderland.local>"));
  c.notifier.on_interrupted =
      parse_interrupted_policy(env::get("WONDERLAND_NOTIFICATION_ON_INTERRUPTED", "resend"));
  const auto attempts = env::get_int_in_range("WONDERLAND_NOTIFICATION_MAX_ATTEMPTS", 10, 1, 100);
  c.max_attempts = static_cast<int>(attempts);
  const std::string host = env::get("WONDERLAND_SMTP_HOST", "");
  if (!host.empty()) {
    SmtpOptions smtp;
    smtp.host = host;
    const auto port = env::get_int_in_range("WONDERLAND_SMTP_PORT", 25, 1, 65535);
    smtp.port = static_cast<int>(port);
    smtp.user = env::get("WONDERLAND_SMTP_USER", "");
    smtp.password = env::get("WONDERLAND_SMTP_PASSWORD", "");
    smtp.starttls = env::get_bool("WONDERLAND_SMTP_STARTTLS", false);
    smtp.timeout = env::get_ms("WONDERLAND_SMTP_TIMEOUT_MS", smtp.timeout);
    smtp.helo_domain = c.notifier.from.address.substr(c.notifier.from.address.find('@') + 1);
    c.smtp = smtp;
  }
  return c;
}

Result<json> list_notifications(Store& store, const json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  std::string customer_id;
  read_uuid(body, "customer_id", customer_id, fields);
  int limit = kDefaultListLimit;
  auto l = body.find("limit");
  if (l != body.end() && !l->is_null()) {
    if (!l->is_number_integer() || l->get<std::int64_t>() < 1 ||
        l->get<std::int64_t>() > kMaxListLimit) {
      fields.push_back({"limit", "must be an integer from 1 to " + std::to_string(kMaxListLimit)});
    } else {
      limit = l->get<int>();
    }
  }
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  ListReply reply;
  for (const NotificationRecord& n : store.list(customer_id, limit)) {
    reply.notifications.push_back(ListedNotification{n.notification_id, n.kind, n.subject,
                                                     n.order_id, n.email, n.body, n.created_at});
  }
  return json(reply);
}

Server::Server(messaging::Connection& connection, Config config) : config_(std::move(config)) {
  store_ = std::make_unique<Store>(config_.db_path);
  if (config_.smtp) {
    mailer_ = std::make_unique<SmtpMailer>(*config_.smtp);
  } else {
    mailer_ = std::make_unique<OutboxMailer>(config_.outbox_dir);
  }
  notifier_ = std::make_unique<Notifier>(*store_, *mailer_, config_.notifier);

  router_.on(commands::kList, [this](const messaging::Envelope& request) {
    return list_notifications(*store_, request.body);
  });
  rpc_ = std::make_unique<messaging::RpcServer>(
      connection, messaging::RpcServerOptions{config_.commands_queue, 32, 2}, router_.handler());

  messaging::Subscription sub;
  sub.exchange = config_.exchange;
  sub.type = messaging::ExchangeType::kTopic;
  sub.queue = config_.events_queue;
  sub.binding_keys = consumed_event_types();
  sub.prefetch = 8;
  sub.max_attempts = config_.max_attempts;
  sub.concurrency = 1;  // one email at a time; the Notifier is not for concurrent use
  events_ = messaging::subscribe(
      connection, sub, [this](const messaging::Envelope& e, const messaging::DeliveryInfo&) {
        log::CorrelationScope scope(e.correlation_id);
        notifier_->handle(e);
      });
  log::info("notification: database {}, delivering to {}, consuming {} from {}, serving {}",
            config_.db_path, mailer_->describe(), config_.events_queue.str(),
            config_.exchange.str(), config_.commands_queue.str());
}

Server::~Server() {
  events_.cancel();
  rpc_.reset();
}

}  // namespace wonderland::notification
