#include "wonderland/messaging/pubsub.hpp"

namespace wonderland::messaging {

void declare_exchange(Connection& conn, const ExchangeName& exchange, ExchangeType type) {
  conn.declare(ExchangeSpec{exchange, type, true});
}

std::future<Status> publish_event(Connection& conn, const ExchangeName& exchange,
                                  const std::string& routing_key, Envelope envelope) {
  Outgoing out;
  out.exchange = exchange;
  out.routing_key = routing_key;
  out.envelope = std::move(envelope);
  out.delivery = Delivery::kPersistent;
  return conn.publish(std::move(out));
}

ConsumerHandle subscribe(Connection& conn, const Subscription& sub, Handler handler) {
  declare_exchange(conn, sub.exchange, sub.type);
  QueueSpec queue;
  queue.name = sub.queue;
  conn.declare(queue);
  for (const auto& key : sub.binding_keys)
    conn.declare(BindingSpec{sub.queue, sub.exchange, key});
  ConsumerOptions options;
  options.queue = sub.queue;
  options.prefetch = sub.prefetch;
  options.max_attempts = sub.max_attempts;
  options.concurrency = sub.concurrency;
  return conn.consume(options, std::move(handler));
}

}  // namespace wonderland::messaging
