#include "wonderland/mediator/event_feed.hpp"

#include "wonderland/common/json_text.hpp"
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

std::string EventFeed::to_text(const workflow::WorkflowEvent& event) {
  const auto& r = event.record;
  std::string out;
  out.reserve(256);
  out += "{\"at\":";
  append_json_string(out, r.at);
  out += ",\"attempt\":";
  out += std::to_string(r.attempt);
  out += ",\"data\":";
  append_redacted_json(out, r.data);
  out += ",\"definition\":";
  append_json_string(out, event.definition);
  out += ",\"seq\":";
  out += std::to_string(r.seq);
  if (r.status) {
    out += ",\"status\":";
    append_json_string(out, workflow::to_string(*r.status));
  }
  out += ",\"step\":";
  append_json_string(out, r.step);
  out += ",\"type\":";
  append_json_string(out, r.type);
  out += ",\"version\":";
  out += std::to_string(event.version);
  out += ",\"workflow_id\":";
  append_json_string(out, r.workflow_id);
  out.push_back('}');
  return out;
}

workflow::Observer EventFeed::observer() {
  return [this](const workflow::WorkflowEvent& event) {
    Pending p{to_text(event), event.record.workflow_id};
    const bool for_peers = peers_.wanted && peers_.wanted(event);
    bool full = false;
    {
      std::lock_guard lock(mu_);
      if (for_peers)
        pending_peers_.push_back(p);
      pending_.push_back(std::move(p));
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
    std::vector<Pending> batch;
    std::vector<Pending> peer_batch;
    batch.swap(pending_);
    peer_batch.swap(pending_peers_);
    bool stopping = stop_;
    lock.unlock();
    if (!batch.empty())
      flush(batch, peer_batch);
    if (stopping)
      return;
    lock.lock();
  }
}

namespace {

/// `[e1,e2,...]`: the events' texts as one JSON array.
std::string array_text(const std::vector<EventFeed::Pending>& events) {
  std::size_t size = 2;
  for (const auto& e : events)
    size += e.text.size() + 1;
  std::string out;
  out.reserve(size);
  out.push_back('[');
  for (const auto& e : events) {
    if (out.size() > 1)
      out.push_back(',');
    out += e.text;
  }
  out.push_back(']');
  return out;
}

}  // namespace

void EventFeed::flush(const std::vector<Pending>& batch, const std::vector<Pending>& peer_batch) {
  if (!peer_batch.empty()) {
    std::string body = "{\"events\":" + array_text(peer_batch) + ",\"origin\":";
    append_json_string(body, peers_.origin);
    body.push_back('}');
    publish(kPeerEventsKey, body, peer_batch, false);
  }
  publish("workflow.events", "{\"events\":" + array_text(batch) + "}", batch, true);
}

void EventFeed::publish(std::string routing_key, const std::string& body,
                        const std::vector<Pending>& events, bool counted) {
  auto envelope = messaging::Envelope::make(routing_key, nlohmann::json::object(),
                                            connection_.options().service);
  if (events.size() == 1)
    envelope.correlation_id = events.front().workflow_id;
  messaging::Outgoing out;
  out.exchange = exchange_;
  out.routing_key = std::move(routing_key);
  out.raw_body = envelope.serialize_with_body(body);
  out.envelope = std::move(envelope);
  out.delivery = messaging::Delivery::kTransient;
  out.timeout = std::chrono::seconds(5);
  auto counters = counted ? counters_ : nullptr;
  const std::size_t n = events.size();
  connection_.publish(std::move(out), [counters, n](const Status& s) {
    if (!counters)
      return;
    if (s.ok()) {
      counters->published += n;
    } else {
      counters->dropped += n;
    }
  });
}

}  // namespace wonderland::mediator
