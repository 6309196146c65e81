// Publishes every workflow event to the `wonderland.workflow` exchange for the logging service.
//
// Events are batched: the engine produces several per step, and one broker message per event
// would multiply the broker's load. A batch leaves at least every `interval` or when it holds
// `max_batch` events, as one transient envelope of type `workflow.events` (routing key
// `workflow.events`) whose body is `{events: [...]}`. Secrets are redacted. Observability data:
// a batch lost while the broker is down is counted, not retried forever.
//
// With several mediators on one journal, the events the other mediators need (PeerEvents:
// settled workflows, stock changes) also leave, in the same flush, as a second and much
// smaller batch: routing key `mediator.peers`, body `{origin, events: [...]}` with `origin`
// the publishing mediator's instance id. A peer thus never parses every step event of every
// other mediator, and skips its own batches.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/messaging/connection.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::mediator {

/// What the other mediators sharing the journal are sent (see above); empty `wanted`: nothing.
struct PeerFeed {
  std::string origin;  ///< This mediator's instance id.
  std::function<bool(const workflow::WorkflowEvent&)> wanted;
};

/// Routing key and envelope type of the batches for the other mediators.
inline constexpr const char* kPeerEventsKey = "mediator.peers";

class EventFeed {
 public:
  /// One event's text with the workflow id it belongs to (the batch's correlation when alone).
  struct Pending {
    std::string text;
    std::string workflow_id;
  };

  EventFeed(messaging::Connection& connection, messaging::ExchangeName exchange,
            std::chrono::milliseconds interval = std::chrono::milliseconds(100),
            std::size_t max_batch = 500, PeerFeed peers = {});
  ~EventFeed();  ///< publishes what is pending, then stops
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  /// An engine observer that queues the event (cheap; runs on the engine thread).
  workflow::Observer observer();
  /// The JSON text of one event: {at, attempt, data, definition, seq, status?, step, type,
  /// version, workflow_id}, its data redacted. Written once, on the engine thread, straight
  /// from the record: no document is built and the data is copied only to redact it.
  static std::string to_text(const workflow::WorkflowEvent& event);

  std::uint64_t published() const { return counters_->published; }
  std::uint64_t dropped() const { return counters_->dropped; }

 private:
  void run();
  void flush(const std::vector<Pending>& batch, const std::vector<Pending>& peer_batch);
  void publish(std::string routing_key, const std::string& body, const std::vector<Pending>& events,
               bool counted);

  messaging::Connection& connection_;
  messaging::ExchangeName exchange_;
  std::chrono::milliseconds interval_;
  std::size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  PeerFeed peers_;
  std::vector<Pending> pending_;
  std::vector<Pending> pending_peers_;
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
