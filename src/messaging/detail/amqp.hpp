// The one layer that owns rabbitmq-c. Everything above it speaks Wonderland types; nothing
// outside src/messaging/detail sees an amqp_* handle. Every reply from the C library is checked
// here, in one place, and failures become AmqpError exceptions.
//
// Not thread-safe: an AmqpChannel belongs to the broker session's I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/topology.hpp"

namespace wonderland::messaging::detail {

/// A failure of the connection or the channel. `channel_closed` is set when the broker closed the
/// channel (e.g. a refused declaration): the connection must be re-established.
class AmqpError : public std::runtime_error {
 public:
  explicit AmqpError(const std::string& what, bool refused_by_broker = false, int reply_code = 0)
      : std::runtime_error(what), refused_by_broker_(refused_by_broker), reply_code_(reply_code) {}
  /// The broker answered with a channel or connection close (the request itself was refused).
  bool refused_by_broker() const noexcept { return refused_by_broker_; }
  /// The AMQP reply code of that close (406 PRECONDITION_FAILED, 404 NOT_FOUND ...); 0 otherwise.
  int reply_code() const noexcept { return reply_code_; }

 private:
  bool refused_by_broker_;
  int reply_code_;
};

/// Message properties that Wonderland uses.
struct Properties {
  std::string message_id;
  std::string type;
  std::string correlation_id;
  std::string reply_to;
  std::string app_id;
  bool persistent = false;
  /// Per-message TTL in milliseconds, as AMQP writes it (a decimal string); empty: none.
  std::string expiration;
  /// Integer headers (`x-wonderland-attempt`) and string headers (dead-letter reasons).
  std::vector<std::pair<std::string, std::int64_t>> int_headers;
  std::vector<std::pair<std::string, std::string>> string_headers;

  std::optional<std::int64_t> int_header(const std::string& key) const;
};

/// Events read from the socket.
struct DeliverEvent {
  std::string consumer_tag;
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  std::string exchange;
  std::string routing_key;
  Properties properties;
  std::string body;
};
struct ConfirmEvent {
  std::uint64_t delivery_tag = 0;
  bool multiple = false;
  bool ack = true;  ///< false for basic.nack
};
struct ReturnEvent {
  int reply_code = 0;
  std::string reply_text;
  Properties properties;
};
struct CancelEvent {  ///< The broker cancelled a consumer (its queue was deleted).
  std::string consumer_tag;
};
using Event = std::variant<DeliverEvent, ConfirmEvent, ReturnEvent, CancelEvent>;

struct UrlParts {
  std::string host;
  int port = 5672;
  std::string user;
  std::string password;
  std::string vhost;
  bool tls = false;  ///< amqps://
};
/// Parses an amqp:// or amqps:// URL; throws std::invalid_argument when malformed.
UrlParts parse_amqp_url(const std::string& url);

/// A logged-in connection with one open channel (channel 1; channel 2, opened when needed,
/// inspects queues). Closes and frees on destruction.
class AmqpChannel {
 public:
  /// Connects (over TLS with `tls` when url.tls), logs in and opens the channel; throws
  /// AmqpError naming the cause (refused connection, failed certificate check, bad login).
  /// `queue_type` applies to the durable, shared queues it declares (see QueueType).
  AmqpChannel(const UrlParts& url, const TlsOptions& tls, const std::string& connection_name,
              int heartbeat_s, std::chrono::milliseconds timeout,
              QueueType queue_type = QueueType::kClassic);
  ~AmqpChannel();
  AmqpChannel(const AmqpChannel&) = delete;
  AmqpChannel& operator=(const AmqpChannel&) = delete;

  int fd() const;
  int heartbeat_s() const;

  void declare_exchange(const ExchangeSpec& spec);
  /// Declares `spec`: as a quorum queue when the channel's queue type is quorum and the queue is
  /// durable, not exclusive and not auto-delete. A queue that exists as the other type is
  /// refused (406) with an error that says so.
  void declare_queue(const QueueSpec& spec);
  /// Messages ready in a queue and its consumers, by a passive declaration on a channel of its
  /// own (channel 2), so that the broker's refusal closes that channel only: a missing queue is
  /// `not_found`, another refusal `failed_precondition`. Throws AmqpError when the connection
  /// fails.
  Result<QueueStatus> queue_status(const QueueName& queue);
  void bind(const BindingSpec& spec);
  void delete_queue(const QueueName& queue);
  void delete_exchange(const ExchangeName& exchange);
  void qos(std::uint16_t prefetch);
  void confirm_select();
  /// Starts a consumer; returns the consumer tag. One that acknowledges (not `no_ack`) consumes,
  /// and qos, ack, reject and cancel act, on the channel of unconfirmed publishes, so that an
  /// acknowledgement and the reply published after it reach the broker in that order.
  std::string consume(const std::string& queue, bool no_ack);
  void cancel(const std::string& consumer_tag);

  /// Publishes on channel 1 (in confirm mode when the session asked for it), or with
  /// `confirmed` false on the unconfirmed channel, opened at its first use.
  void publish(const std::string& exchange, const std::string& routing_key, bool mandatory,
               const Properties& props, const std::string& body, bool confirmed = true);
  /// basic.get with auto-ack; nullopt when the queue is empty.
  std::optional<DeliverEvent> get(const std::string& queue);
  void ack(std::uint64_t delivery_tag);
  void reject(std::uint64_t delivery_tag, bool requeue);

  /// On: publishes and acknowledgements are held back so that a batch of them leaves together,
  /// in one send() over plain TCP (the frames are held here), in full segments over TLS
  /// (TCP_CORK); off sends what is held back, and throws AmqpError when that fails. Uncorked, a
  /// message's frames leave in one send() over plain TCP. The methods that wait for the broker's
  /// answer (declarations, qos, consume, cancel, get) send at once whatever is held back.
  void cork(bool on);
  /// Whether corking costs no system call (plain TCP: the frames are held in this process).
  bool holds_frames() const;

  /// Sends a heartbeat frame (with the batch, while corked). rabbitmq-c sends none: the session
  /// does, on its own schedule, so that no write waits on the socket without a time limit.
  void send_heartbeat();

  /// Whether a frame can be read without touching the socket.
  bool has_buffered() const;
  /// Reads one event without waiting for the socket. Returns nullopt when nothing is ready. Frames
  /// that are not events (heartbeats) are consumed silently. Throws AmqpError when the connection
  /// failed or the broker closed it.
  std::optional<Event> poll_event();
  /// Frees memory of frames already handled; call between batches.
  void release_buffers();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace wonderland::messaging::detail
