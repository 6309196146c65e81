// Following the live feed of stored records (for the mediator's `GET /api/logs/stream`).
//
//   logstore::Filter filter = logstore::Filter::from_params(query_params).value();
//   logging::LiveSubscription live(conn, filter, [&](const logstore::Record& r) { sse.send(r); });
//
// The subscription declares the live exchange, a queue of its own (exclusive, auto-delete,
// bounded: the oldest messages are dropped when the subscriber falls behind) bound with the
// narrowest routing keys the filter allows, and hands every record that matches the filter to
// the callback, in order, on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "wonderland/logstore/filter.hpp"
#include "wonderland/logstore/record.hpp"
#include "wonderland/logging/protocol.hpp"
#include "wonderland/messaging/connection.hpp"

namespace wonderland::logging {

struct LiveOptions {
  messaging::ExchangeName exchange = kLiveExchange;
  /// The queue is named `<queue_prefix>.<uuid>`.
  std::string queue_prefix = "logging.live";
  /// Messages the queue holds for a slow subscriber before dropping the oldest.
  std::int64_t max_queued = 10'000;
};

/// The routing keys that a live queue for `filter` needs (`#` when nothing narrows it).
std::vector<std::string> live_binding_keys(const logstore::Filter& filter);

class LiveSubscription {
 public:
  /// Runs on the subscription's handler thread; must not throw (exceptions are logged and
  /// ignored). Destroying the subscription from inside it deadlocks.
  using Callback = std::function<void(const logstore::Record&)>;

  /// Subscribes. Blocks until the queue is declared and bound; throws ErrorException when the
  /// broker refuses or does not answer within 30 s. `connection` must outlive this object.
  LiveSubscription(messaging::Connection& connection, logstore::Filter filter, Callback on_record,
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

}  // namespace wonderland::logging
