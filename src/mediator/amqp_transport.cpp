#include "wonderland/mediator/amqp_transport.hpp"

namespace wonderland::mediator {

using messaging::Envelope;

AmqpTransport::AmqpTransport(messaging::Connection& connection, TransportOptions options)
    : connection_(connection), rpc_(connection), options_(std::move(options)) {
  // Publish steps go to this exchange: publishing to one the broker does not know closes the
  // channel (and with it every command in flight), so make sure it exists, as its other
  // publishers do.
  connection_.declare(
      messaging::ExchangeSpec{options_.events, messaging::ExchangeType::kTopic, true});
}

messaging::QueueName AmqpTransport::queue_for(const std::string& service) const {
  return messaging::QueueName{options_.queue_prefix + service + ".commands"};
}

void AmqpTransport::send(workflow::Command command, workflow::ReplyCallback done) {
  Envelope e =
      Envelope::make(command.action, std::move(command.input), connection_.options().service);
  e.correlation_id = command.workflow_id;
  e.idempotency_key = std::move(command.idempotency_key);
  messaging::RpcRequest request{queue_for(command.service), std::move(e), command.timeout,
                                options_.command_delivery};
  rpc_.call(std::move(request), [done = std::move(done)](Result<Envelope> reply) {
    if (reply.ok()) {
      done(std::move(reply.value().body));
    } else {
      done(reply.error());
    }
  });
}

void AmqpTransport::publish(workflow::Publication publication, workflow::PublishCallback done) {
  Envelope e = Envelope::make(publication.topic, std::move(publication.payload),
                              connection_.options().service);
  e.correlation_id = publication.workflow_id;
  e.idempotency_key = std::move(publication.idempotency_key);
  messaging::Outgoing out;
  out.exchange = options_.events;
  out.routing_key = publication.topic;
  out.envelope = std::move(e);
  out.delivery = messaging::Delivery::kPersistent;
  connection_.publish(std::move(out), std::move(done));
}

}  // namespace wonderland::mediator
