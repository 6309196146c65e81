// Following the live feed of stored records (for the mediator's `GET /api/logs/stream`).
//
//   log_store::Filter filter = log_store::Filter::from_params(query_params).value();
//   log_service::LiveSubscription live(conn, filter, [&](const log_store::Record& r) { sse.send(r);
//   });
//
// The subscription declares the live exchange, a queue of its own (exclusive, auto-delete,
// bounded: the oldest messages are dropped when the subscriber falls behind) bound with the
// narrowest routing keys the filter allows, and hands every record that matches the filter to
// the callback, in order, on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "wonderland/log_service/protocol.hpp"
#include "wonderland/log_store/filter.hpp"
#include "wonderland/log_store/record.hpp"
#include "wonderland/messaging/connection.hpp"

namespace wonderland::log_service {

struct LiveOptions {
  messaging::ExchangeName exchange = kLiveExchange;
  /// The queue is named `<queue_prefix>.<uuid>`.
  std::string queue_prefix = "logging.live";
  /// Messages the queue holds for a slow subscriber before dropping the oldest.
  std::int64_t max_queued = 10'000;
};

/// The routing keys that a live queue for `filter` needs (`#` when nothing narrows it).
std::vector<std::string> live_binding_keys(const log_store::Filter& filter);

class LiveSubscription {
 public:
  /// Runs on the subscription's handler thread; must not throw (exceptions are logged and
  /// ignored). Destroying the subscription from inside it deadlocks.
  using Callback = std::function<void(const log_store::Record&)>;

  /// Subscribes. Blocks until the queue is declared and bound; throws ErrorException when the
  /// broker refuses or does not answer within 30 s. `connection` must outlive this object.
  LiveSubscription(messaging::Connection& connection, log_store::Filter filter, Callback on_record,
                   LiveOptions options = {});
  /// Stops consuming and deletes the queue (and the dead-letter queue the consumer declared).
  ~LiveSubscription();
  LiveSubscription(const LiveSubscription&) = delete;
  LiveSubscription& operator=(const LiveSubscription&) = delete;

  const messaging::QueueName& queue() const noexcept { return queue_; }

 private:
  messaging::Connection& connection_;
  messaging::QueueName queue_;
  messaging::ConsumerHandle consumer_;
};

}  // namespace wonderland::log_service
