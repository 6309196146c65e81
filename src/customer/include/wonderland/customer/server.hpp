// The customer service: configuration, schema migration at start, a fixed set of workers each
// with its own PostgreSQL connection, the RPC server on the command queue (protocol.hpp), and
// the outbox flush.
//
//   runtime::Service service("customer");
//   customer::Server server(service.connection(), customer::Config::from_env());
//   service.wait();
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "wonderland/customer/password.hpp"
#include "wonderland/customer/protocol.hpp"
#include "wonderland/messaging/connection.hpp"

namespace wonderland::customer {

struct Config {
  /// WONDERLAND_PG_URL
  std::string pg_url = "postgresql://wonderland:wonderland@127.0.0.1:5432/wonderland";
  /// WONDERLAND_CUSTOMER_SCHEMA: the schema holding every table of the service.
  std::string schema = "customer";
  /// WONDERLAND_CUSTOMER_QUEUE: the durable command queue.
  std::string queue = kCommandQueue.str();
  /// WONDERLAND_CUSTOMER_WORKERS: worker threads = database connections (1–32).
  unsigned workers = 4;
  /// WONDERLAND_SESSION_TTL_S: lifetime of a session token.
  std::chrono::seconds session_ttl{86400};
  /// WONDERLAND_ARGON2_OPSLIMIT, WONDERLAND_ARGON2_MEMLIMIT_KIB (password.hpp).
  PasswordPolicy password;
  /// WONDERLAND_CUSTOMER_OUTBOX_INTERVAL_MS: how often events left in the outbox are retried.
  std::chrono::milliseconds outbox_interval{1000};
  /// WONDERLAND_RETURN_WINDOW_DAYS: how many days after an order its lines may be returned
  /// (0–3650).
  int return_window_days = 30;
  /// WONDERLAND_CUSTOMER_STARTUP_TIMEOUT_S: how long the start waits for the database.
  std::chrono::seconds startup_timeout{60};

  /// Reads the variables above; unset ones keep the defaults. Throws std::invalid_argument
  /// naming the variable when a value is malformed or out of range.
  static Config from_env();
};

class Server {
 public:
  /// Applies the migrations (waiting up to `startup_timeout` for the database; throws when it
  /// stays unreachable or a migration fails), declares the events exchange, opens `workers`
  /// handlers and serves `queue` with as many consumer threads, and starts the periodic outbox
  /// flush. Database connections open lazily and re-open after a failure; while the database is
  /// down commands are answered `unavailable` (retryable).
  Server(messaging::Connection& connection, Config config);
  /// Stops consuming (commands in progress finish and are answered), then the outbox flush.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const Config& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wonderland::customer
