// The transactional outbox: events are written to table `outbox` in the transaction of the
// change they announce, and published to the broker after that transaction has committed.
//
// A sign-up that committed therefore always announces itself, even when the broker was down at
// the time: what could not be published stays in the outbox and a later flush (after the next
// command, or the service's periodic flush) publishes it. Delivery is at-least-once; every
// retry carries the same envelope (same message_id), so subscribers can deduplicate.
#pragma once

#include <functional>
#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/customer/database.hpp"
#include "wonderland/messaging/envelope.hpp"

namespace wonderland::customer {

/// Publishes one event with `routing_key`; returns once the broker has confirmed it, or the
/// error. Called on the flushing thread; may block.
using EventPublisher = std::function<Status(const std::string& routing_key, const messaging::Envelope& event)>;

/// Publishes up to `limit` waiting events, oldest first, deleting each one once `publish`
/// succeeded; stops at the first failure, leaving it and the rest for a later flush. Rows are
/// claimed with FOR UPDATE SKIP LOCKED, so concurrent flushers never publish the same row at the
/// same time. Returns how many were published. Must not run inside an ambient transaction;
/// throws on database failures.
int flush_outbox(Database& db, const EventPublisher& publish, int limit = 100);

/// How many events wait in the outbox.
int pending_events(Database& db);

}  // namespace wonderland::customer
