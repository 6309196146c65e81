// Redelivery: what happens to a consumed message after its handler ran (consumer retries).
// Success acknowledges it; a failure publishes it again to its queue with the next attempt
// number after a back-off; a poison message, a message out of attempts, a malformed one or one
// that keeps crashing its consumer goes to the dead-letter exchange with its reason. The original
// delivery is acknowledged only once the broker confirmed the copy.
// Not thread-safe: I/O thread of the session only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "detail/amqp.hpp"
#include "detail/timer_queue.hpp"
#include "wonderland/messaging/envelope.hpp"

namespace wonderland::messaging::detail {

class BrokerSession;

/// The attempt header that counts deliveries of a message across republishes.
inline constexpr const char* kAttemptHeader = "x-wonderland-attempt";

/// One delivery on its way through a consumer.
struct ConsumerJob {
  std::uint64_t generation = 0;  ///< of the connection it was delivered on
  DeliverEvent delivery;
  Envelope envelope;
  int attempt = 1;
  /// From the message's AMQP expiration, counted from its arrival in this process: a message
  /// still waiting for a handler thread after this is dropped (its sender gave up on it).
  std::optional<Clock::time_point> expires_at;
};

/// How a handler run ended.
struct HandlerOutcome {
  std::string failure;  ///< empty: success
  bool poison = false;  ///< the handler rejected the message for good
};

class Redelivery {
 public:
  explicit Redelivery(BrokerSession& session);

  /// Acknowledges, retries or dead-letters `job` from `queue` after its handler ran.
  void finish(ConsumerJob job, const HandlerOutcome& outcome, const std::string& queue,
              int max_attempts);
  /// Publishes `job` again, to `queue` or as a dead letter, with attempt number `attempt`; the
  /// delivery is acknowledged once the copy is confirmed, rejected when it cannot be made.
  void republish(ConsumerJob job, const std::string& queue, int attempt, const std::string& reason,
                 bool dead_letter);
  /// Acknowledges a delivery, unless its connection is gone (the broker redelivers it).
  void ack(std::uint64_t generation, std::uint64_t delivery_tag);

 private:
  void retry_later(ConsumerJob job, const std::string& queue, const std::string& failure);
  void reject(std::uint64_t generation, std::uint64_t delivery_tag, bool requeue);
  /// Runs `op` on the channel the delivery came on, if it is still open.
  void settle(std::uint64_t generation, const std::function<void(AmqpChannel&)>& op);

  BrokerSession& session_;
};

}  // namespace wonderland::messaging::detail
