// Signals delivered by services over the broker (docs/messages.md, "Signals").
//
// An event of type `workflow.signal.<name>` on the `wonderland.events` exchange (routing key the
// same) whose `correlation_id` is a workflow id delivers the signal `<name>` to that workflow, as
// `POST /api/workflows/{id}/signals/{name}` does. Its body is {signal_id?, payload?}; without a
// signal_id the envelope's `message_id` deduplicates, so a redelivered event is taken once.
//
// The mediators consume one durable queue, `<prefix>mediator.signals`, as competing consumers;
// with a shared journal, a signal for a workflow another mediator owns is forwarded to it
// (OwnerRequests). A signal the engine accepted is acknowledged; one it refuses for good (no such
// workflow, a workflow that ended, a name it waits for no signal of, a malformed event) is
// dead-lettered to `<prefix>mediator.signals.dead` with the reason, and a retryable refusal
// (the owner is being replaced) is tried again by the consumer's bounded redelivery.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "owner_requests.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::mediator {

inline constexpr const char* kSignalEventPrefix = "workflow.signal.";

class SignalEvents {
 public:
  /// Declares the queue and its binding and consumes it until destroyed. `owners` is null with
  /// a journal of one mediator.
  SignalEvents(messaging::Connection& connection, workflow::Engine& engine, OwnerRequests* owners,
               const std::string& queue_prefix);
  ~SignalEvents();
  SignalEvents(const SignalEvents&) = delete;
  SignalEvents& operator=(const SignalEvents&) = delete;

  static messaging::QueueName queue(const std::string& queue_prefix);

  /// The signal an event carries, or why it is malformed.
  static Result<OwnerRequest> parse(const messaging::Envelope& event);

 private:
  void handle(const messaging::Envelope& event);

  workflow::Engine& engine_;
  OwnerRequests* owners_;
  messaging::ConsumerHandle consumer_;
};

}  // namespace wonderland::mediator
