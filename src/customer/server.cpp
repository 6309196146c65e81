#include "wonderland/customer/server.hpp"

#include <stdexcept>

#include "handler_pool.hpp"
#include "migrations.hpp"
#include "outbox.hpp"
#include "wonderland/common/env.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/messaging/rpc.hpp"

namespace wonderland::customer {
namespace {

/// Publishes on the events exchange and waits for the broker's confirmation.
EventPublisher event_publisher(messaging::Connection& connection) {
  return [&connection](const std::string& routing_key, const messaging::Envelope& event) {
    return messaging::publish_event(connection, messaging::exchanges::kEvents, routing_key, event)
        .get();
  };
}

}  // namespace

Config Config::from_env() {
  Config c;
  c.pg_url = env::get("WONDERLAND_PG_URL", c.pg_url);
  c.schema = env::get("WONDERLAND_CUSTOMER_SCHEMA", c.schema);
  if (!valid_schema_name(c.schema)) {
    throw std::invalid_argument("environment variable WONDERLAND_CUSTOMER_SCHEMA='" + c.schema +
                                "' is not a schema name ([a-z_][a-z0-9_]*, at most 63 characters)");
  }
  c.queue = env::get("WONDERLAND_CUSTOMER_QUEUE", c.queue);
  c.workers =
      static_cast<unsigned>(env::get_int_in_range("WONDERLAND_CUSTOMER_WORKERS", c.workers, 1, 32));
  c.session_ttl = std::chrono::seconds(env::get_int_in_range(
      "WONDERLAND_SESSION_TTL_S", c.session_ttl.count(), 1, std::int64_t{366} * 24 * 3600));
  c.password = PasswordPolicy::from_env();
  c.outbox_interval = std::chrono::milliseconds(env::get_int_in_range(
      "WONDERLAND_CUSTOMER_OUTBOX_INTERVAL_MS", c.outbox_interval.count(), 10, 3'600'000));
  c.return_window_days = static_cast<int>(
      env::get_int_in_range("WONDERLAND_RETURN_WINDOW_DAYS", c.return_window_days, 0, 3650));
  c.startup_timeout = std::chrono::seconds(env::get_int_in_range(
      "WONDERLAND_CUSTOMER_STARTUP_TIMEOUT_S", c.startup_timeout.count(), 0, 3600));
  return c;
}

/// Destroyed in reverse order: the RPC server stops first (commands in progress finish and are
/// answered), then the workers, then the periodic flush.
struct Server::Impl {
  explicit Impl(Config c) : config(std::move(c)), flush_db(config.pg_url, config.schema) {}

  Config config;
  Database flush_db;
  std::unique_ptr<OutboxFlusher> flusher;
  std::unique_ptr<HandlerPool> handlers;
  std::unique_ptr<messaging::RpcServer> rpc;
};

Server::Server(messaging::Connection& connection, Config config)
    : impl_(std::make_unique<Impl>(std::move(config))) {
  Impl& s = *impl_;
  migrate_when_reachable(s.flush_db, s.config.startup_timeout);
  messaging::declare_exchange(connection, messaging::exchanges::kEvents,
                              messaging::ExchangeType::kTopic);
  EventPublisher publish = event_publisher(connection);
  s.flusher = std::make_unique<OutboxFlusher>(s.flush_db, publish, s.config.outbox_interval);

  StoreOptions options;
  options.session_ttl = s.config.session_ttl;
  options.password = s.config.password;
  options.return_window_days = s.config.return_window_days;
  options.source = connection.options().service;
  s.handlers = std::make_unique<HandlerPool>(s.config.workers, s.config.pg_url, s.config.schema,
                                             options, publish);

  messaging::RpcServerOptions rpc_options;
  rpc_options.queue = messaging::QueueName{s.config.queue};
  rpc_options.concurrency = s.config.workers;
  rpc_options.prefetch = static_cast<std::uint16_t>(s.config.workers * 2);
  s.rpc = std::make_unique<messaging::RpcServer>(
      connection, rpc_options,
      [&pool = *s.handlers](const messaging::Envelope& request) { return pool.handle(request); });
  log::info("customer service: serving '{}' with {} worker(s), schema '{}'", s.config.queue,
            s.config.workers, s.config.schema);
}

Server::~Server() = default;

const Config& Server::config() const {
  return impl_->config;
}

}  // namespace wonderland::customer
