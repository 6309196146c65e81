// Publishes every workflow event to the `wonderland.workflow` exchange for the logging service.
//
// Events are batched: the engine produces several per step, and one broker message per event
// would multiply the broker's load. A batch leaves at least every `interval` or when it holds
// `max_batch` events, as one transient envelope of type `workflow.events` (routing key
// `workflow.events`) whose body is `{events: [...]}`. Secrets are redacted. Observability data:
// a batch lost while the broker is down is counted, not retried forever.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "wonderland/messaging/connection.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::mediator {

class EventFeed {
 public:
  EventFeed(messaging::Connection& connection, messaging::ExchangeName exchange,
            std::chrono::milliseconds interval = std::chrono::milliseconds(100),
            std::size_t max_batch = 500);
  ~EventFeed();  ///< publishes what is pending, then stops
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  /// An engine observer that queues the event (cheap; runs on the engine thread).
  workflow::Observer observer();
  /// The JSON form of one event: {workflow_id, definition, version, seq, type, step, attempt,
  /// at, status?, data}.
  static nlohmann::json to_json(const workflow::WorkflowEvent& event);

  std::uint64_t published() const { return counters_->published; }
  std::uint64_t dropped() const { return counters_->dropped; }

 private:
  void run();
  void flush(std::vector<nlohmann::json> batch);

  messaging::Connection& connection_;
  messaging::ExchangeName exchange_;
  std::chrono::milliseconds interval_;
  std::size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nlohmann::json> pending_;
  bool stop_ = false;
  /// Shared with the publish callbacks, which may run after the feed is gone (the last batch is
  /// confirmed, or failed, on the connection's I/O thread once the destructor has returned).
  struct Counters {
    std::atomic<std::uint64_t> published{0};
    std::atomic<std::uint64_t> dropped{0};
  };
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
  std::thread thread_;
};

}  // namespace wonderland::mediator
