// Consumers: the consumers of a broker session. It registers them (from any thread), starts
// them on every new channel, hands each delivery to its consumer's handler (on the consumer's
// worker threads, or on the I/O thread when it has none), and passes the outcome to Redelivery.
// A message the broker redelivers, or one that is not an envelope, goes straight to Redelivery.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "detail/amqp.hpp"
#include "detail/publisher.hpp"
#include "detail/redelivery.hpp"
#include "detail/worker_pool.hpp"
#include "wonderland/messaging/consumer.hpp"

namespace wonderland::messaging::detail {

class BrokerSession;

class Consumers {
 public:
  explicit Consumers(BrokerSession& session);

  /// Registers a consumer and starts it when connected (any thread); returns its id.
  std::uint64_t add(ConsumerOptions options, Handler handler);
  /// Cancels a consumer and waits for its handlers to finish (any thread but the I/O thread).
  void remove(std::uint64_t id);
  /// Stops every consumer's worker threads (the session shuts down).
  void stop_all();

  // I/O thread only.
  /// A new channel: starts every consumer on it; throws AmqpError.
  void on_connected(AmqpChannel& channel);
  /// This connection deletes `queue`: its consumers stop consuming on this channel (a new
  /// connection starts them again, as it declares again what this one declared).
  void forget_queue(const QueueName& queue);
  /// The connection is gone: no consumer is consuming any more.
  void on_disconnect();
  /// Whether any consumer is consuming on the current channel.
  bool consuming() const { return !by_tag_.empty(); }
  void on_deliver(DeliverEvent ev);
  /// The broker cancelled a consumer (its queue was deleted, or lost on a node): it is started
  /// again after a pause.
  void on_cancelled(const CancelEvent& ev);

 private:
  struct State {
    std::uint64_t id = 0;
    ConsumerOptions options;
    Handler handler;
    std::unique_ptr<WorkerPool> pool;  // null: handler runs on the I/O thread
    std::string tag;                   // on the current channel; empty when not consuming
    int cancelled = 0;                 // cancels by the broker since the last delivery
  };

  void start(AmqpChannel& channel, State& c);
  /// start(), or on failure logs it and drops the connection; false when it failed. A first
  /// start the broker refused reconnects at once; a restart after the broker's cancel does not.
  bool start_or_disconnect(AmqpChannel& channel, State& c, bool restart);
  std::shared_ptr<State> find(std::uint64_t id);
  /// Reads the delivery into a job; false when Redelivery took the message over.
  bool prepare(State& c, ConsumerJob& job);
  void handle(State& c, ConsumerJob job);
  /// Runs the handler; what it publishes after the acknowledgement goes to `after_ack`.
  HandlerOutcome run_handler(State& c, const ConsumerJob& job,
                             std::vector<PendingPublish>& after_ack);

  BrokerSession& session_;
  Redelivery redelivery_;
  // Shared with the threads that run the handlers.
  std::mutex mu_;
  std::map<std::uint64_t, std::shared_ptr<State>> consumers_;
  // I/O thread only.
  std::unordered_map<std::string, std::shared_ptr<State>> by_tag_;
};

}  // namespace wonderland::messaging::detail
