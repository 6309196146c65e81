// The one thing the broker forwarding needs from a broker: publish a log envelope.
//
// Keeping it an interface keeps the forwarding logic (bounded queue, back-off, drop counting)
// independent of RabbitMQ: tests drive it with fakes, and `AmqpLogPublisher`
// (amqp_publisher.hpp) adapts a `messaging::Connection`.
#pragma once

#include <functional>

#include "wonderland/log/record.hpp"
#include "wonderland/messaging/envelope.hpp"

namespace wonderland::log {

class LogPublisher {
 public:
  /// Receives the outcome of one publish: true when the broker took the record.
  using Done = std::function<void(bool ok)>;

  virtual ~LogPublisher() = default;

  /// Publishes `envelope` to the logs exchange with routing key `to_string(severity)`,
  /// transiently.
  ///
  /// Contract: returns promptly (the outcome is reported through `done`, not by blocking), does
  /// not throw, and calls `done` exactly once — possibly before returning, possibly later on any
  /// thread. `done` never blocks. A publisher that breaks the "returns promptly" part only
  /// stalls forwarding: logging calls never wait for it.
  virtual void publish(messaging::Envelope envelope, Severity severity, Done done) = 0;
};

}  // namespace wonderland::log
