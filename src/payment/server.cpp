#include "wonderland/payment/server.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>

#include "wonderland/common/env.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/messaging/pubsub.hpp"

namespace wonderland::payment {

Config Config::from_env() {
  Config c;
  const std::string var_dir = env::get("WONDERLAND_VAR_DIR", "var");
  std::filesystem::path db =
      env::get("WONDERLAND_PAYMENT_DB", (std::filesystem::path(var_dir) / "payment.db").string());
  c.store.db_path = std::filesystem::absolute(db).lexically_normal().string();
  c.store.sqlite.synchronous = "FULL";  // a decided charge or refund survives a power loss
  c.store.fault_rate = env::get_fraction("WONDERLAND_PAYMENT_FAULT_RATE", 0.0);
  c.store.latency = env::get_ms("WONDERLAND_PAYMENT_LATENCY_MS", std::chrono::milliseconds(0));
  c.queue = messaging::QueueName{env::get("WONDERLAND_PAYMENT_QUEUE", c.queue.str())};
  const std::string key_file = env::get("WONDERLAND_PAYMENT_KEY_FILE", "");
  c.store.key_file =
      key_file.empty() ? "" : std::filesystem::absolute(key_file).lexically_normal().string();
  if (const char* hex = std::getenv("WONDERLAND_PAYMENT_KEY"); hex != nullptr && *hex != '\0') {
    c.store.key =
        std::make_shared<const SecretKey>(SecretKey::from_hex(hex, "WONDERLAND_PAYMENT_KEY"));
  }
  const auto ttl = env::get_int("WONDERLAND_PAYMENT_TOKEN_TTL_S", c.store.token_ttl.count());
  constexpr std::int64_t kWeekSeconds = std::int64_t{7} * 24 * 3600;
  if (ttl < 1 || ttl > kWeekSeconds)
    throw std::invalid_argument("WONDERLAND_PAYMENT_TOKEN_TTL_S must be 1-604800");
  c.store.token_ttl = std::chrono::seconds(ttl);
  return c;
}

Server::Server(messaging::Connection& connection, Config config)
    : connection_(connection),
      config_(std::move(config)),
      payments_(std::make_unique<Payments>(config_.store)) {
  messaging::declare_exchange(connection_, messaging::exchanges::kEvents,
                              messaging::ExchangeType::kTopic);
  payments_->register_commands(router_, [this] { publish_pending(); });
  outbox_publisher_.emplace(
      "outbox publish", config_.outbox_retry_interval, [this] { publish_pending(); },
      runtime::Periodic::First::kAtStart);
  messaging::RpcServerOptions rpc{config_.queue, config_.prefetch, config_.concurrency};
  // Every command but a refund is a short write to the ledger: it runs on the connection's I/O
  // thread, which saves the hand-off to a handler thread and back. A refund stays on a handler
  // thread, since it waits for the broker to confirm the event it published, and the I/O thread
  // is what receives that confirm. Injected latency (tests) keeps everything on the handler
  // threads, so that slow requests overlap.
  if (config_.store.latency.count() == 0) {
    rpc.on_io_thread = [](const messaging::Envelope& request) {
      return request.type != commands::kRefund;
    };
  }
  rpc_ = std::make_unique<messaging::RpcServer>(connection_, std::move(rpc), router_.handler());
  log::info("payment: ledger {}, serving {}", config_.store.db_path, config_.queue.str());
}

Server::~Server() {
  rpc_.reset();
  outbox_publisher_.reset();
}

std::size_t Server::publish_pending() {
  std::lock_guard lock(publish_mu_);
  std::size_t published = 0;
  try {
    for (OutboxEvent& event : payments_->pending_events()) {
      const std::string message_id = event.envelope.message_id;
      std::future<Status> done = messaging::publish_event(
          connection_, messaging::exchanges::kEvents, event.routing_key, std::move(event.envelope));
      if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        log::warn("event {} ({}) not confirmed yet; it stays in the outbox", message_id,
                  event.routing_key);
        break;
      }
      Status status = done.get();
      if (!status.ok()) {
        log::warn("event {} ({}) not published: {}; it stays in the outbox", message_id,
                  event.routing_key, status.error().message);
        break;
      }
      payments_->mark_published(event.id);
      ++published;
    }
  } catch (const std::exception& e) {
    log::error("publishing the outbox failed: {}", e.what());
  }
  return published;
}

}  // namespace wonderland::payment
