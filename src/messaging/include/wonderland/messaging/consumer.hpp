// Consumers: manual acknowledgement, bounded prefetch, bounded redelivery, dead letters.
//
// Contract of a Handler:
//   * Returning normally acknowledges the message.
//   * Throwing `PoisonMessage` dead-letters it at once, with the exception's text as reason.
//   * Throwing anything else counts a failed attempt: the message is published again to its
//     queue with an attempt counter (header `x-wonderland-attempt`), and after `max_attempts` it is
//     dead-lettered with the last error as its reason.
//   * A body that is not a valid envelope is dead-lettered before the handler sees it.
//   * A message the broker redelivers (the consumer died before acknowledging) also counts an
//     attempt, so a message that crashes its consumer cannot loop forever.
// Dead letters go to exchange `wonderland.dlx` with routing key = the queue name, and carry the
// headers `x-wonderland-reason`, `x-wonderland-queue` and `x-wonderland-attempt`; the queue
// `<queue>.dead` holds them.
//
// Delivery is at-least-once: the same message may be handled twice (after a reconnect, or a
// crash between handling and acknowledging). Handlers must be idempotent; see idempotency.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "wonderland/messaging/envelope.hpp"
#include "wonderland/messaging/names.hpp"

namespace wonderland::messaging {

/// Thrown by a handler to dead-letter a message at once.
class PoisonMessage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Outgoing;  // connection.hpp

/// What a handler sees besides the envelope.
struct DeliveryInfo {
  QueueName queue;
  std::string exchange;
  std::string routing_key;
  std::string reply_to;
  std::string rpc_correlation_id;
  int attempt = 1;  ///< 1 on first delivery.
  bool redelivered = false;
  /// Publishes `message` right after this delivery is settled (acknowledged, or handed back when
  /// the handler failed), on the same connection, and reports nothing back (a lost one costs its
  /// receiver a retry). When that connection is gone by then, the message is dropped: the
  /// delivery comes again, unsettled, and its handler publishes again. RpcServer's replies go
  /// this way: RabbitMQ 3.10 closes the whole connection (541) when it routes a reply to a direct
  /// reply-to address whose node is down, so a request is acknowledged before its reply, and a
  /// reply is not kept to close the next connection too. Valid while the handler runs.
  std::function<void(Outgoing)> publish_after_ack;
};

using Handler = std::function<void(const Envelope&, const DeliveryInfo&)>;

struct ConsumerOptions {
  QueueName queue;
  /// Unacknowledged messages the broker may send ahead.
  std::uint16_t prefetch = 64;
  int max_attempts = 5;
  /// Threads that run the handler. 0 runs it on the I/O thread itself, which is fastest but then
  /// the handler must never block.
  unsigned concurrency = 1;
  /// With concurrency > 0: the messages for which this answers true are handled on the I/O
  /// thread all the same, as with concurrency 0 (so their handling must never block), the others
  /// on the handler threads. Each message kept on the I/O thread saves two thread hand-offs
  /// (to a handler thread and back), the largest cost of a short request. Called on the I/O
  /// thread with the parsed envelope, and must not throw; unset: every message goes to the
  /// handler threads.
  std::function<bool(const Envelope&)> on_io_thread;
  /// Declare the durable `<queue>.dead` that keeps this queue's dead letters. Turn off for
  /// temporary queues (a live feed): their dead letters are then only logged.
  bool keep_dead_letters = true;
  /// With keep_dead_letters: the durable queue that keeps them instead of `<queue>.dead`, one
  /// shared by temporary queues of one kind (the mediators' control queues), bound to the
  /// dead-letter exchange by this queue's name.
  std::optional<QueueName> dead_letters_in;
};

namespace detail {
class BrokerSession;
}

/// Owns a running consumer; cancels it on destruction (messages in progress finish first).
class ConsumerHandle {
 public:
  ConsumerHandle() = default;
  ConsumerHandle(const std::shared_ptr<detail::BrokerSession>& session, std::uint64_t id);
  ConsumerHandle(ConsumerHandle&&) noexcept;
  ConsumerHandle& operator=(ConsumerHandle&&) noexcept;
  ~ConsumerHandle();
  /// Cancels now; idempotent.
  void cancel();

 private:
  std::weak_ptr<detail::BrokerSession> session_;
  std::uint64_t id_ = 0;
};

}  // namespace wonderland::messaging
