// The workflow events of the other mediators that share the journal, for what this mediator
// keeps in memory about workflows it does not drive: the long polls waiting for an order to
// settle (SettleWaiters) and the catalogue answers that a stock change makes stale
// (CatalogueCache). Every mediator publishes the events its peers need to the workflow event
// exchange (EventFeed's peer batches, routing key `mediator.peers`, every 100 ms); this
// subscription takes them on a queue of its own (exclusive, auto-delete, bounded), skips the
// batches this mediator published itself, and hands each event to the same observers the
// engine calls. `wanted_by_peers` is the filter the publishing side applies.
//
//   PeerEvents peers(connection, messaging::exchanges::kWorkflow, instance_id,
//                    {waiters->observer(), catalogue->observer(registry)});
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <vector>

#include "wonderland/messaging/connection.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::mediator {

class PeerEvents {
 public:
  /// Subscribes (blocks until the queue is declared and bound; throws when the broker refuses).
  PeerEvents(messaging::Connection& connection, const messaging::ExchangeName& exchange,
             std::string origin, std::vector<workflow::Observer> observers);
  /// Stops consuming and deletes the queue.
  ~PeerEvents();
  PeerEvents(const PeerEvents&) = delete;
  PeerEvents& operator=(const PeerEvents&) = delete;

  /// The record of one event of a `workflow.events` batch (EventFeed::to_json), with its
  /// definition and version; nullopt when it is not one.
  struct Parsed {
    workflow::JournalRecord record;
    std::string definition;
    int version = 0;
  };
  static std::optional<Parsed> parse(const nlohmann::json& event);

 private:
  messaging::Connection& connection_;
  messaging::QueueName queue_;
  messaging::ConsumerHandle consumer_;
};

}  // namespace wonderland::mediator
