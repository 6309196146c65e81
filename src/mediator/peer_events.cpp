#include "wonderland/mediator/peer_events.hpp"

#include <nlohmann/json.hpp>

#include "wonderland/common/ids.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/mediator/event_feed.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/messaging/topology.hpp"

namespace wonderland::mediator {

std::optional<PeerEvents::Parsed> PeerEvents::parse(const nlohmann::json& event) {
  if (!event.is_object())
    return std::nullopt;
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = event.find(key);
    if (it == event.end() || !it->is_string())
      return std::nullopt;
    return it->get<std::string>();
  };
  auto id = text("workflow_id");
  auto type = text("type");
  auto definition = text("definition");
  auto version = event.find("version");
  if (!id || !type || !definition || version == event.end() || !version->is_number_integer())
    return std::nullopt;
  Parsed p;
  p.record.workflow_id = std::move(*id);
  p.record.type = std::move(*type);
  p.record.step = text("step").value_or("");
  p.record.at = text("at").value_or("");
  if (auto seq = event.find("seq"); seq != event.end() && seq->is_number_integer())
    p.record.seq = seq->get<std::int64_t>();
  if (auto status = text("status"))
    p.record.status = workflow::parse_status(*status);
  if (auto data = event.find("data"); data != event.end())
    p.record.data = *data;
  p.definition = std::move(*definition);
  p.version = version->get<int>();
  return p;
}

PeerEvents::PeerEvents(messaging::Connection& connection, const messaging::ExchangeName& exchange,
                       std::string origin, std::vector<workflow::Observer> observers)
    : connection_(connection), queue_("mediator.peers." + new_uuid()) {
  messaging::declare_exchange(connection_, exchange, messaging::ExchangeType::kTopic);
  messaging::QueueSpec spec;
  spec.name = queue_;
  spec.durable = false;
  spec.exclusive = true;
  spec.auto_delete = true;
  spec.dead_letter_exchange.reset();  // an event missed only delays a long poll to its timeout
  spec.max_length = 10'000;
  connection_.declare(spec);
  connection_.declare(messaging::BindingSpec{queue_, exchange, kPeerEventsKey});
  messaging::ConsumerOptions consumer;
  consumer.queue = queue_;
  consumer.prefetch = 64;
  consumer.max_attempts = 1;
  consumer.concurrency = 1;
  consumer.keep_dead_letters = false;
  consumer_ = connection_.consume(
      consumer, [origin = std::move(origin), observers = std::move(observers)](
                    const messaging::Envelope& e, const messaging::DeliveryInfo&) {
        if (auto from = e.body.find("origin");
            from != e.body.end() && from->is_string() && *from == origin) {
          return;  // this mediator's own batch: its engine already told the observers
        }
        auto events = e.body.find("events");
        if (events == e.body.end() || !events->is_array())
          return;
        for (const auto& event : *events) {
          auto parsed = parse(event);
          if (!parsed)
            continue;
          workflow::WorkflowEvent ev{parsed->record, parsed->definition, parsed->version};
          for (const auto& observe : observers) {
            try {
              observe(ev);
            } catch (const std::exception& ex) {
              log::warn("peer workflow event observer failed: {}", ex.what());
            }
          }
        }
      });
}

PeerEvents::~PeerEvents() {
  consumer_.cancel();
  try {
    connection_.delete_queue(queue_, std::chrono::seconds(5));
  } catch (const std::exception& e) {
    log::debug("could not delete the peer events queue {}: {}", queue_.str(), e.what());
  }
}

}  // namespace wonderland::mediator
