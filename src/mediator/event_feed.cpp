#include "wonderland/mediator/event_feed.hpp"

#include "wonderland/mediator/redact.hpp"

namespace wonderland::mediator {

EventFeed::EventFeed(messaging::Connection& connection, messaging::ExchangeName exchange,
                     std::chrono::milliseconds interval, std::size_t max_batch, PeerFeed peers)
    : connection_(connection),
      exchange_(std::move(exchange)),
      interval_(interval),
      max_batch_(max_batch),
      peers_(std::move(peers)) {
  connection_.declare(messaging::ExchangeSpec{exchange_, messaging::ExchangeType::kTopic, true});
  thread_ = std::thread([this] { run(); });
}

EventFeed::~EventFeed() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

nlohmann::json EventFeed::to_json(const workflow::WorkflowEvent& event) {
  const auto& r = event.record;
  nlohmann::json j{{"workflow_id", r.workflow_id},
                   {"definition", event.definition},
                   {"version", event.version},
                   {"seq", r.seq},
                   {"type", r.type},
                   {"step", r.step},
                   {"attempt", r.attempt},
                   {"at", r.at},
                   {"data", redact(r.data)}};
  if (r.status)
    j["status"] = std::string(workflow::to_string(*r.status));
  return j;
}

workflow::Observer EventFeed::observer() {
  return [this](const workflow::WorkflowEvent& event) {
    nlohmann::json j = to_json(event);
    const bool for_peers = peers_.wanted && peers_.wanted(event);
    bool full = false;
    {
      std::lock_guard lock(mu_);
      if (for_peers)
        pending_peers_.push_back(j);
      pending_.push_back(std::move(j));
      full = pending_.size() >= max_batch_;
    }
    if (full)
      cv_.notify_one();
  };
}

void EventFeed::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, interval_, [this] { return stop_ || pending_.size() >= max_batch_; });
    std::vector<nlohmann::json> batch;
    std::vector<nlohmann::json> peer_batch;
    batch.swap(pending_);
    peer_batch.swap(pending_peers_);
    bool stopping = stop_;
    lock.unlock();
    if (!batch.empty())
      flush(std::move(batch), std::move(peer_batch));
    if (stopping)
      return;
    lock.lock();
  }
}

void EventFeed::flush(std::vector<nlohmann::json> batch, std::vector<nlohmann::json> peer_batch) {
  if (!peer_batch.empty()) {
    const std::size_t n = peer_batch.size();
    publish(kPeerEventsKey,
            nlohmann::json{{"origin", peers_.origin}, {"events", std::move(peer_batch)}}, n, false);
  }
  const std::size_t n = batch.size();
  publish("workflow.events", nlohmann::json{{"events", std::move(batch)}}, n, true);
}

void EventFeed::publish(std::string routing_key, nlohmann::json body, std::size_t events,
                        bool counted) {
  const auto& list = body["events"];
  std::string correlation = list.size() == 1 ? list.front().value("workflow_id", "") : "";
  auto envelope =
      messaging::Envelope::make(routing_key, std::move(body), connection_.options().service);
  envelope.correlation_id = correlation;
  messaging::Outgoing out;
  out.exchange = exchange_;
  out.routing_key = std::move(routing_key);
  out.envelope = std::move(envelope);
  out.delivery = messaging::Delivery::kTransient;
  out.timeout = std::chrono::seconds(5);
  auto counters = counted ? counters_ : nullptr;
  connection_.publish(std::move(out), [counters, events](const Status& s) {
    if (!counters)
      return;
    if (s.ok()) {
      counters->published += events;
    } else {
      counters->dropped += events;
    }
  });
}

}  // namespace wonderland::mediator
