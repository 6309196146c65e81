// Request/reply (RPC) over RabbitMQ.
//
// The client uses RabbitMQ's direct reply-to (`amq.rabbitmq.reply-to`): no reply queue is
// declared, and replies travel straight to the caller's connection. Many requests can be in
// flight on one connection; each is matched to its reply by a request id and has its own timeout.
//
//   RpcClient rpc(conn);
//   rpc.call(RpcRequest{QueueName{"inventory.commands"}, Envelope::make("inventory.reserve", j)},
//            [](Result<Envelope> reply) { ... });           // runs on the I/O thread
//
// A reply is an Envelope; an error reply has `error` set and arrives as the Result's Error.
// A timeout gives `deadline_exceeded`, a lost connection `unavailable`; both are retryable.
// Requests are commands: the server may see one twice, and deduplicates by idempotency key.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/consumer.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/messaging/names.hpp"

namespace wonderland::messaging {

struct RpcRequest {
  QueueName queue;  ///< The server's command queue (published through the default exchange).
  Envelope envelope;
  std::chrono::milliseconds timeout{5000};
  Delivery delivery = Delivery::kPersistent;
};

using RpcCallback = std::function<void(Result<Envelope>)>;

class RpcClient {
 public:
  explicit RpcClient(Connection& connection);
  ~RpcClient() = default;
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  /// Sends the request; `done` runs exactly once, on the connection's I/O thread.
  void call(RpcRequest request, RpcCallback done);
  /// Sends the request and returns a future of the reply.
  std::future<Result<Envelope>> call(RpcRequest request);

 private:
  Connection& connection_;
};

/// A server-side handler: returns the reply body, or an Error value. An exception becomes an
/// error reply (`ErrorException` keeps its error; any other exception is `internal`).
using RpcHandler = std::function<Result<nlohmann::json>(const Envelope& request)>;

/// Dispatches requests to a handler by envelope type; an unknown type is an invalid_argument
/// error naming it.
///   CommandRouter router;
///   router.on("inventory.reserve", [&](const Envelope& e) { return store.reserve(e); });
///   RpcServer server(conn, {QueueName{"inventory.commands"}}, router.handler());
class CommandRouter {
 public:
  CommandRouter& on(std::string type, RpcHandler handler);
  Result<nlohmann::json> dispatch(const Envelope& request) const;
  /// A handler for RpcServer that dispatches through this router (which must outlive it).
  RpcHandler handler() const;

 private:
  std::map<std::string, RpcHandler, std::less<>> handlers_;
};

struct RpcServerOptions {
  QueueName queue;
  std::uint16_t prefetch = 64;
  unsigned concurrency = 1;  ///< as ConsumerOptions::concurrency
  /// Requests the queue holds before it refuses more (`x-max-length` with
  /// `x-overflow: reject-publish`); 0: no limit. Unset: WONDERLAND_COMMAND_QUEUE_MAX_LENGTH
  /// (default 10000).
  std::optional<std::int64_t> max_length;
  /// A queue of this process alone (a mediator's control queue): not durable, deleted by the
  /// broker when its consumer goes, and without a `<queue>.dead` of its own: malformed requests
  /// go to `dead_letters_in` when set, else they are only logged. A request sent while no such
  /// queue exists is dropped by the broker, and its caller gets `deadline_exceeded`.
  bool temporary = false;
  /// A temporary queue's dead letters: a durable queue that outlives it (ConsumerOptions).
  std::optional<QueueName> dead_letters_in;
  /// Requests handled on the I/O thread despite `concurrency` (ConsumerOptions::on_io_thread).
  std::function<bool(const Envelope&)> on_io_thread;

  /// The limit from WONDERLAND_COMMAND_QUEUE_MAX_LENGTH (default 10000, 0 = no limit).
  static std::int64_t max_length_from_env();
};

/// Declares the durable command queue and serves it: each request is handled, its reply sent to
/// `reply_to` with the request's id, and only then acknowledged. Malformed requests are
/// dead-lettered. Stops when destroyed.
///
/// Backpressure: the queue holds at most `max_length` requests; beyond that the broker refuses
/// new ones, and the caller's RpcClient::call fails at once with `unavailable` ("the <queue>
/// queue is full; try again"). A request carries its caller's timeout as its AMQP expiration, so
/// one whose caller gave up is dropped, by the broker while queued or by the server while it
/// waits for a handler thread, without a reply. The queue has no dead-letter exchange of its own,
/// so that expired requests vanish instead of filling `<queue>.dead`; malformed requests are
/// still dead-lettered there by the consumer. A queue left by an older version with other
/// arguments is used as it is, with a warning that the limit is not in force.
class RpcServer {
 public:
  RpcServer(Connection& connection, RpcServerOptions options, RpcHandler handler);
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

 private:
  ConsumerHandle consumer_;
};

}  // namespace wonderland::messaging
