// Publish/subscribe helpers over topic and direct exchanges.
#pragma once

#include <string>
#include <vector>

#include "wonderland/messaging/connection.hpp"

namespace wonderland::messaging {

/// Declares a durable exchange of `type` (idempotent; recorded for reconnects).
void declare_exchange(Connection& conn, const ExchangeName& exchange, ExchangeType type);

/// Publishes `envelope` to `exchange` with `routing_key` (persistent, confirmed).
std::future<Status> publish_event(Connection& conn, const ExchangeName& exchange,
                                  const std::string& routing_key, Envelope envelope);

struct Subscription {
  ExchangeName exchange;
  ExchangeType type = ExchangeType::kTopic;
  QueueName queue;                        ///< Durable queue owned by the subscriber.
  std::vector<std::string> binding_keys;  ///< Topic patterns (`order.*`, `#`) or direct keys.
  std::uint16_t prefetch = 64;
  int max_attempts = 5;
  unsigned concurrency = 1;
};

/// Declares the exchange, the queue and its bindings, and consumes it with `handler`.
[[nodiscard]] ConsumerHandle subscribe(Connection& conn, const Subscription& sub, Handler handler);

}  // namespace wonderland::messaging
