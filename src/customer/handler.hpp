// One worker of the customer service: its own database connection, idempotency store and
// store, and the command router that dispatches command envelopes to them.
//
//   customer::CommandHandler handler(url, schema, options, publisher);
//   Result<json> reply = handler.handle(envelope);   // what the RPC server sends back
//
// `handle` is the service's boundary: every failure comes back as an error value, and every
// line logged while handling carries the envelope's correlation id.
#pragma once

#include <string>
#include <vector>

#include "database.hpp"
#include "idempotency_store.hpp"
#include "outbox.hpp"
#include "store.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/messaging/rpc.hpp"

namespace wonderland::customer {

/// How the handler runs one command type (the table is in handler.cpp).
struct CommandSpec;

class CommandHandler {
 public:
  /// Does not connect yet (the first command does). `publish` may be empty: events then stay
  /// in the outbox for someone else to flush.
  CommandHandler(const std::string& pg_url, const std::string& schema, StoreOptions options,
                 EventPublisher publish = {});
  CommandHandler(const CommandHandler&) = delete;
  CommandHandler& operator=(const CommandHandler&) = delete;

  /// Handles one command envelope (types: `command_types()`):
  ///   * an unknown type is invalid_argument naming it;
  ///   * a state-changing command whose envelope has an idempotency key runs at most once per
  ///     (type, key) through the PostgreSQL idempotency store: a repeat gets the recorded reply
  ///     or final error. `customer.sign_in` is not recorded (its reply holds the session token,
  ///     which is never stored in clear); a repeated sign-in opens another session.
  ///     `customer.record_order` and `customer.clear_basket` are not recorded either: each is
  ///     idempotent by itself, keyed by its order (a repeat changes nothing and answers alike);
  ///   * database failures are `unavailable` / `aborted` (retryable), and the connection is
  ///     re-opened on the next command;
  ///   * after a successful sign-up the outbox is flushed through the publisher (after commit);
  ///     a publish failure does not fail the command.
  /// Not thread-safe: one handler per worker thread.
  Result<nlohmann::json> handle(const messaging::Envelope& request);

  /// Every command type `handle` accepts (protocol.hpp), in alphabetical order.
  static const std::vector<std::string>& command_types();
  /// Whether `type` changes state (deduplicated by idempotency key, or idempotent by itself).
  static bool changes_state(const std::string& type);

  Database& database() { return db_; }
  Store& store() { return store_; }
  PgIdempotencyStore& idempotency() { return idempotency_; }

 private:
  Result<nlohmann::json> run(const CommandSpec& command, const messaging::Envelope& request);

  Database db_;
  PgIdempotencyStore idempotency_;
  Store store_;
  EventPublisher publish_;
  messaging::CommandRouter router_;
};

}  // namespace wonderland::customer
