// The workflow engine's transport over RabbitMQ: a task is an RPC to `<service>.commands`, a
// publish step is a persistent, confirmed event on the events exchange.
#pragma once

#include <string>

#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/workflow/transport.hpp"

namespace wonderland::mediator {

struct TransportOptions {
  /// Prepended to every command queue (`<prefix><service>.commands`); lets tests run side by side.
  std::string queue_prefix;
  messaging::ExchangeName events = messaging::exchanges::kEvents;
  /// How task commands travel. The journal, not the broker, makes a workflow durable: a command
  /// whose RPC failed (its reply travels on the connection, so a broker restart fails it either
  /// way) is sent again under the same idempotency key, or its step is compensated as in doubt.
  /// A persistent command would only survive in the queue to take effect after that. Events of
  /// publish steps are always persistent and confirmed.
  messaging::Delivery command_delivery = messaging::Delivery::kTransient;
};

class AmqpTransport final : public workflow::Transport {
 public:
  /// Declares the events exchange (blocks until the broker answers; throws when it refuses).
  explicit AmqpTransport(messaging::Connection& connection, TransportOptions options = {});

  /// The command's envelope has type = action, correlation_id = workflow id, the step's
  /// idempotency key, and is persistent. Replies arrive on the connection's I/O thread.
  void send(workflow::Command command, workflow::ReplyCallback done) override;
  /// Publishes `{payload}` with routing key = topic; the idempotency key lets subscribers drop
  /// duplicates after a recovery.
  void publish(workflow::Publication publication, workflow::PublishCallback done) override;

  messaging::QueueName queue_for(const std::string& service) const;

 private:
  messaging::Connection& connection_;
  messaging::RpcClient rpc_;
  TransportOptions options_;
};

}  // namespace wonderland::mediator
