#include "wonderland/customer/server.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <thread>
#include <vector>

#include "wonderland/common/env.hpp"
#include "wonderland/customer/handler.hpp"
#include "wonderland/customer/migrations.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/messaging/rpc.hpp"

namespace wonderland::customer {
namespace {

std::int64_t bounded(const char* name, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  auto v = env::get_int(name, fallback);
  if (v < min || v > max) {
    throw std::invalid_argument(std::string("environment variable ") + name + " must be between " +
                                std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

void migrate_when_reachable(Database& db, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      migrate(db);
      return;
    } catch (const pqxx::failure& e) {
      bool transient = dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr || !db.connected();
      if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
        transient = transient || sql->sqlstate().rfind("57P", 0) == 0;  // server starting or stopping
      }
      if (!transient || std::chrono::steady_clock::now() >= deadline) throw;
      spdlog::warn("customer database not reachable yet ({}); retrying", e.what());
      db.reset();
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
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
  c.workers = static_cast<unsigned>(bounded("WONDERLAND_CUSTOMER_WORKERS", c.workers, 1, 32));
  c.session_ttl = std::chrono::seconds(
      bounded("WONDERLAND_SESSION_TTL_S", c.session_ttl.count(), 1, std::int64_t{366} * 24 * 3600));
  c.password = PasswordPolicy::from_env();
  c.outbox_interval = std::chrono::milliseconds(
      bounded("WONDERLAND_CUSTOMER_OUTBOX_INTERVAL_MS", c.outbox_interval.count(), 10, 3'600'000));
  c.startup_timeout = std::chrono::seconds(
      bounded("WONDERLAND_CUSTOMER_STARTUP_TIMEOUT_S", c.startup_timeout.count(), 0, 3600));
  return c;
}

struct Server::Impl {
  Impl(messaging::Connection& connection, Config c)
      : conn(connection), config(std::move(c)), flush_db(config.pg_url, config.schema) {}

  /// Borrows an idle handler for the duration of one command.
  CommandHandler& acquire() {
    std::unique_lock lock(mu);
    idle_cv.wait(lock, [&] { return !idle.empty(); });
    CommandHandler* h = idle.back();
    idle.pop_back();
    return *h;
  }
  void release(CommandHandler& h) {
    {
      std::lock_guard lock(mu);
      idle.push_back(&h);
    }
    idle_cv.notify_one();
  }

  void flush_loop() {
    std::unique_lock lock(mu);
    while (!stopping) {
      stop_cv.wait_for(lock, config.outbox_interval, [&] { return stopping; });
      if (stopping) break;
      lock.unlock();
      Result<nlohmann::json> r =
          guarded(flush_db, [&]() -> Result<nlohmann::json> { return nlohmann::json(flush_outbox(flush_db, publish)); });
      if (!r.ok()) spdlog::debug("periodic outbox flush failed: {}", r.error().message);
      lock.lock();
    }
  }

  messaging::Connection& conn;
  Config config;
  EventPublisher publish;
  Database flush_db;
  std::vector<std::unique_ptr<CommandHandler>> handlers;
  std::mutex mu;
  std::condition_variable idle_cv;
  std::condition_variable stop_cv;
  std::vector<CommandHandler*> idle;
  bool stopping = false;
  std::thread flusher;
  std::unique_ptr<messaging::RpcServer> rpc;
};

Server::Server(messaging::Connection& connection, Config config)
    : impl_(std::make_unique<Impl>(connection, std::move(config))) {
  Impl& s = *impl_;
  migrate_when_reachable(s.flush_db, s.config.startup_timeout);
  messaging::declare_exchange(s.conn, messaging::exchanges::kEvents, messaging::ExchangeType::kTopic);
  messaging::Connection* conn = &s.conn;
  s.publish = [conn](const std::string& routing_key, const messaging::Envelope& event) -> Status {
    return messaging::publish_event(*conn, messaging::exchanges::kEvents, routing_key, event).get();
  };

  StoreOptions options;
  options.session_ttl = s.config.session_ttl;
  options.password = s.config.password;
  options.source = s.conn.options().service;
  for (unsigned i = 0; i < s.config.workers; ++i) {
    s.handlers.push_back(std::make_unique<CommandHandler>(s.config.pg_url, s.config.schema, options, s.publish));
    s.idle.push_back(s.handlers.back().get());
  }
  s.flusher = std::thread([&s] { s.flush_loop(); });

  messaging::RpcServerOptions rpc_options;
  rpc_options.queue = messaging::QueueName{s.config.queue};
  rpc_options.concurrency = s.config.workers;
  rpc_options.prefetch = static_cast<std::uint16_t>(s.config.workers * 2);
  Impl* impl = impl_.get();
  try {
    s.rpc = std::make_unique<messaging::RpcServer>(
        s.conn, rpc_options, [impl](const messaging::Envelope& request) -> Result<nlohmann::json> {
          struct Lease {
            Impl* owner;
            CommandHandler& handler;
            ~Lease() { owner->release(handler); }
          } lease{impl, impl->acquire()};
          return lease.handler.handle(request);
        });
  } catch (...) {
    {
      std::lock_guard lock(s.mu);
      s.stopping = true;
    }
    s.stop_cv.notify_all();
    s.flusher.join();
    throw;
  }
  spdlog::info("customer service: serving '{}' with {} worker(s), schema '{}'", s.config.queue, s.config.workers,
               s.config.schema);
}

Server::~Server() {
  Impl& s = *impl_;
  s.rpc.reset();
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
  }
  s.stop_cv.notify_all();
  if (s.flusher.joinable()) s.flusher.join();
}

const Config& Server::config() const { return impl_->config; }

}  // namespace wonderland::customer
