// A connection to RabbitMQ: one socket, one I/O thread, safe to use from any thread.
//
// Overview
//   Connection conn(ConnectionOptions::from_env("inventory"));
//   conn.declare(QueueSpec{QueueName{"inventory.commands"}});
//   conn.publish(Outgoing{exchanges::kEvents, "order.confirmed", envelope}).get();  // confirmed
//
// Guarantees
//   * Publishing uses publisher confirms: a publish's completion reports success only once the
//     broker has confirmed it; a nack, a return of a mandatory message, a lost connection before
//     the confirm, or the deadline passing all complete it with an error. Delivery is therefore
//     at-least-once: a publish that failed may still have reached the broker, so consumers
//     deduplicate (see idempotency.hpp).
//   * Heartbeats detect a dead peer. On any connection failure the connection reconnects with
//     exponential backoff and jitter, declares every recorded exchange, queue and binding again,
//     and restarts every consumer. Publishes issued while disconnected wait until their deadline.
//   * With several broker addresses (the nodes of a cluster), each attempt to connect goes to the
//     next address after the one that failed, and the log names the node connected to. Publishes
//     unconfirmed when a node died are sent again on the next connection (whatever node it
//     reaches) or fail at their deadline; RPC calls in flight fail with `unavailable`.
//   * Completion handlers run on the connection's I/O thread: they must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/messaging/consumer.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/messaging/names.hpp"
#include "wonderland/messaging/topology.hpp"

namespace wonderland::messaging {

/// TLS settings of an amqps:// connection (ignored for amqp://).
struct TlsOptions {
  /// PEM file of the certificate authorities that sign the broker's certificate; empty: the
  /// system's trust store.
  std::string ca_cert_file;
  /// Client certificate (PEM, with its chain) and private key (PEM, not encrypted), for brokers
  /// that authenticate clients by certificate; both or neither.
  std::string cert_file;
  std::string key_file;
  /// Verify the broker's certificate chain and that it names the URL's host (DNS name or IP
  /// address). Turning it off leaves the connection open to anyone on the path: for tests and
  /// development only; a warning is logged on every such connection.
  bool verify = true;
};

/// The kind of the durable queues that services share (commands, events, dead letters).
/// Exclusive, auto-delete or non-durable queues (reply and per-process queues) stay classic.
enum class QueueType {
  kClassic,
  kQuorum,  ///< replicated on the nodes of a cluster (`x-queue-type: quorum`)
};

/// "classic" or "quorum"; throws std::invalid_argument naming `setting` for anything else.
QueueType parse_queue_type(const std::string& value,
                           const std::string& setting = "WONDERLAND_AMQP_QUEUE_TYPE");

/// The addresses of a comma-separated list of URLs (spaces around commas allowed); throws
/// std::invalid_argument naming the URL that is malformed, or when the list is empty.
std::vector<std::string> split_amqp_urls(const std::string& urls);

struct ConnectionOptions {
  /// amqp://user:password@host:port/vhost, or amqps://... for TLS (port 5671 by default). A
  /// comma-separated list names the nodes of a cluster: the connection uses one at a time, and
  /// after a failure tries the next one.
  std::string url = "amqp://guest:guest@127.0.0.1:5672/";
  QueueType queue_type = QueueType::kClassic;
  TlsOptions tls;
  /// Service name: the `source` of envelopes and the connection name shown by the broker.
  std::string service = "wonderland";
  std::chrono::seconds heartbeat{10};
  /// Bounds connecting, each synchronous AMQP method, and a write that finds no room in the
  /// socket (a broker that stopped reading, as under its memory alarm): the connection is then
  /// dropped and opened again.
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds reconnect_min_backoff{100};
  std::chrono::milliseconds reconnect_max_backoff{5000};
  /// Put the channel in confirm mode. Turn off only for traffic whose loss is acceptable or
  /// otherwise acknowledged (RPC requests are acknowledged by their reply).
  bool publisher_confirms = true;

  /// Reads WONDERLAND_AMQP_URL (checking every URL of the list), WONDERLAND_AMQP_QUEUE_TYPE,
  /// WONDERLAND_AMQP_HEARTBEAT_S and the TLS settings
  /// (WONDERLAND_AMQP_CACERT, WONDERLAND_AMQP_CERT, WONDERLAND_AMQP_KEY,
  /// WONDERLAND_AMQP_TLS_VERIFY); `service` names the process.
  static ConnectionOptions from_env(std::string service);
};

/// A message to publish.
struct Outgoing {
  ExchangeName exchange;
  std::string routing_key;
  Envelope envelope;
  Delivery delivery = Delivery::kPersistent;
  /// Ask the broker to return the message when no queue is bound for it; the publish then fails
  /// with `unavailable`.
  bool mandatory = false;
  /// How long to wait for the broker (including time spent disconnected).
  std::chrono::milliseconds timeout{10000};
  /// Per-message TTL (AMQP `expiration`): the broker drops the message once it has waited this
  /// long in a queue, and a consumer of this library drops it when it is still waiting in the
  /// consumer's process past that time. RPC requests carry their caller's timeout.
  std::optional<std::chrono::milliseconds> expiration;
  /// Send without a publisher confirm, on a channel of its own that is not in confirm mode: the
  /// publish completes once handed to the socket, and a message the broker drops goes unnoticed.
  /// For RPC replies, whose loss the caller's deadline already covers (it sends again); saves
  /// the broker the confirm and the sender a wake-up per message.
  bool unconfirmed = false;
  /// Transport-only: RPC reply address and request id. Set by the RPC helpers.
  std::string reply_to;
  std::string rpc_correlation_id;
  /// Publish these bytes instead of the serialized envelope (for bridges and for tests that need
  /// a malformed message). The envelope's message_id and type still fill the AMQP properties.
  std::optional<std::string> raw_body;
};

/// What the broker says of a queue (a passive declaration).
struct QueueStatus {
  std::uint64_t messages = 0;   ///< ready, not those delivered and unacknowledged
  std::uint32_t consumers = 0;  ///< consumers attached to it, on any connection
};

/// A message fetched by `Connection::get`, as it lies in the queue.
struct RawMessage {
  std::string body;
  std::string routing_key;
  std::string message_id;
  std::map<std::string, std::string> string_headers;
  std::map<std::string, std::int64_t> int_headers;
};

using PublishCallback = std::function<void(Status)>;

/// Counters, for tests, benchmarks and metrics.
struct ConnectionStats {
  std::uint64_t connects = 0;
  std::uint64_t published = 0;
  std::uint64_t confirmed = 0;
  std::uint64_t unconfirmed = 0;  ///< sent without asking for a confirm (Outgoing::unconfirmed)
  std::uint64_t publish_failures = 0;
  std::uint64_t delivered = 0;
  std::uint64_t dead_lettered = 0;
};

namespace detail {
class BrokerSession;
}

class Connection {
 public:
  /// Starts the I/O thread and connects. Does not wait for the broker: the first declaration or
  /// publish waits (up to its timeout) for the connection.
  explicit Connection(ConnectionOptions options);
  /// Stops consumers, fails every pending operation with `cancelled`, closes the connection.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const ConnectionOptions& options() const;

  // The blocking calls (declare, delete_queue, delete_exchange, get, queue_status and
  // message_count) are answered by the connection's I/O thread. On that thread itself (in a
  // publish's callback, or a handler without handler threads) they fail at once with
  // failed_precondition instead of stalling the connection until their timeout.

  /// Declares (and records, for re-declaration after a reconnect). Blocks until the broker has
  /// answered; throws ErrorException on refusal or timeout.
  void declare(const ExchangeSpec& spec,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void declare(const QueueSpec& spec, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void declare(const BindingSpec& spec,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Deletes a queue (not recorded); for tests that clean up after themselves.
  void delete_queue(const QueueName& queue,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Deletes an exchange (tests and benchmarks clean up with it); same errors as delete_queue.
  void delete_exchange(const ExchangeName& exchange,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// Publishes asynchronously; `done` runs once, on the I/O thread, with the outcome.
  void publish(Outgoing message, PublishCallback done);
  /// Publishes and returns a future of the outcome.
  std::future<Status> publish(Outgoing message);

  /// Starts consuming (see consumer.hpp for the contract). The returned handle cancels the
  /// consumer when destroyed.
  [[nodiscard]] ConsumerHandle consume(ConsumerOptions options, Handler handler);

  /// Takes one message from `queue` (basic.get, acknowledged at once); nullopt when empty. For
  /// tools and tests that inspect a queue such as `<queue>.dead`. Refused with
  /// failed_precondition on a connection that has consumers.
  std::optional<RawMessage> get(const QueueName& queue,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Messages ready in `queue` and its consumers, by a passive declaration on a channel of its
  /// own: a missing queue (`not_found`) or one the broker refuses to show (an exclusive queue of
  /// another connection: `failed_precondition`) leaves the connection, its consumers and
  /// publishes untouched. Not connected: `unavailable`; no answer in time: `deadline_exceeded`.
  /// For health checks, tools and tests.
  Result<QueueStatus> queue_status(const QueueName& queue,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// queue_status(queue).messages; throws ErrorException with its error.
  std::uint64_t message_count(const QueueName& queue,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// Whether the connection is currently open.
  bool connected() const;
  /// host:port of the broker node the connection is open to; empty while disconnected.
  std::string broker_address() const;
  /// Blocks until connected or the timeout passes; returns whether connected.
  bool wait_connected(std::chrono::milliseconds timeout) const;
  ConnectionStats stats() const;

  /// Internal: the session that owns the socket (used by the RPC helpers).
  detail::BrokerSession& session();

 private:
  std::shared_ptr<detail::BrokerSession> session_;
};

}  // namespace wonderland::messaging
