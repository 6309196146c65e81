// The payment service: Payments served over RPC on `payment.commands`, with the outbox of
// `order.refunded` events published to `wonderland.events`.
//
//   runtime::Service service("payment");
//   payment::Server server(service.connection(), payment::Config::from_env());
//   service.wait();
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>

#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/names.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/payment/payments.hpp"
#include "wonderland/payment/protocol.hpp"
#include "wonderland/runtime/periodic.hpp"

namespace wonderland::payment {

struct Config {
  Options store;
  /// The command queue; tests use a unique name so as not to collide with a running system.
  messaging::QueueName queue = kCommandQueue;
  /// Handler threads, for refunds (they wait for the broker's confirm of their event) and, with
  /// injected latency, for every command: the latency is waited outside the ledger lock, so
  /// requests overlap. Without it the other commands run on the connection's I/O thread.
  unsigned concurrency = 2;
  std::uint16_t prefetch = 32;
  /// How often events left in the outbox (the broker was unreachable) are published again.
  std::chrono::milliseconds outbox_retry_interval{5000};

  /// Reads WONDERLAND_PAYMENT_DB (default $WONDERLAND_VAR_DIR/payment.db, var/ when that is
  /// unset; relative to the working directory), WONDERLAND_PAYMENT_FAULT_RATE (0..1, default 0),
  /// WONDERLAND_PAYMENT_LATENCY_MS (default 0), WONDERLAND_PAYMENT_KEY (64 hex digits; when unset
  /// the key is read from WONDERLAND_PAYMENT_KEY_FILE, default `payment.key` next to the
  /// database, created 0600 when missing) and WONDERLAND_PAYMENT_TOKEN_TTL_S (default 3600).
  /// Throws std::invalid_argument on bad values.
  static Config from_env();
};

/// Owns the Payments and the RPC server. After each refund command, and every
/// `outbox_retry_interval`, it publishes the outbox's pending events (publisher-confirmed) and
/// marks them published: at-least-once, after commit.
class Server {
 public:
  /// Opens the ledger, declares `wonderland.events` and the queue, and starts serving. Throws
  /// when any of these fails.
  Server(messaging::Connection& connection, Config config);
  /// Stops serving, then stops the outbox publisher.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Payments& payments() { return *payments_; }
  /// Publishes the pending outbox events now; returns how many were published. Stops at the
  /// first failure (the rest stay pending for the next attempt).
  std::size_t publish_pending();

 private:
  messaging::Connection& connection_;
  Config config_;
  std::unique_ptr<Payments> payments_;
  messaging::CommandRouter router_;
  std::mutex publish_mu_;
  /// Publishes the outbox every outbox_retry_interval; started once the exchange is declared.
  std::optional<runtime::Periodic> outbox_publisher_;
  std::unique_ptr<messaging::RpcServer> rpc_;
};

}  // namespace wonderland::payment
