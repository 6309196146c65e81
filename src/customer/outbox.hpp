// The transactional outbox: events are written to table `outbox` in the transaction of the
// change they announce, and published to the broker after that transaction has committed.
//
// A sign-up that committed therefore always announces itself, even when the broker was down at
// the time: what could not be published stays in the outbox and a later flush (after the next
// command, or the service's periodic flush) publishes it. Delivery is at-least-once; every
// retry carries the same envelope (same message_id), so subscribers can deduplicate.
//
//   int published = flush_outbox(db, publish);           // after a command that wrote events
//   OutboxFlusher flusher(db, publish, 1000ms);           // and every second for the rest
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "database.hpp"
#include "wonderland/common/error.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/runtime/periodic.hpp"

namespace wonderland::customer {

/// Publishes one event with `routing_key`; returns once the broker has confirmed it, or the
/// error. Called on the flushing thread; may block.
using EventPublisher =
    std::function<Status(const std::string& routing_key, const messaging::Envelope& event)>;

/// Publishes up to `limit` waiting events, oldest first, and deletes those `publish` confirmed;
/// stops at the first failure, leaving it and the rest for a later flush. Each row is claimed
/// with a session-level advisory lock, which a concurrent flusher skips, so two flushers never
/// publish the same row at the same time; no transaction stays open while `publish` waits for
/// the broker (the service's sessions end one that idles: Database), and a flusher that dies
/// lets go of its rows with its session. Returns how many were published. Must not run inside an
/// ambient transaction; throws on database failures.
int flush_outbox(Database& db, const EventPublisher& publish, int limit = 100);

/// `flush_outbox` with its database failures as an error value (see guarded.hpp): for callers
/// that log a failed flush and carry on.
Status try_flush_outbox(Database& db, const EventPublisher& publish);

/// How many events wait in the outbox.
int pending_events(Database& db);

/// Flushes the outbox every `interval` on a thread of its own, so that events a command could
/// not publish (the broker was down) go out once it is back. A failed flush is logged and tried
/// again at the next interval. Stops when destroyed (waiting for a flush in progress).
class OutboxFlusher {
 public:
  /// Starts the thread. `db` is used by that thread only, and must outlive the flusher.
  OutboxFlusher(Database& db, EventPublisher publish, std::chrono::milliseconds interval);
  OutboxFlusher(const OutboxFlusher&) = delete;
  OutboxFlusher& operator=(const OutboxFlusher&) = delete;

 private:
  void flush();

  Database& db_;
  EventPublisher publish_;
  runtime::Periodic periodic_;  // last: its thread uses the members above
};

}  // namespace wonderland::customer
