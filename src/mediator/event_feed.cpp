#include "wonderland/mediator/event_feed.hpp"

#include "wonderland/mediator/redact.hpp"

namespace wonderland::mediator {

EventFeed::EventFeed(messaging::Connection& connection, messaging::ExchangeName exchange,
                     std::chrono::milliseconds interval, std::size_t max_batch)
    : connection_(connection),
      exchange_(std::move(exchange)),
      interval_(interval),
      max_batch_(max_batch) {
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
    bool full = false;
    {
      std::lock_guard lock(mu_);
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
    batch.swap(pending_);
    bool stopping = stop_;
    lock.unlock();
    if (!batch.empty())
      flush(std::move(batch));
    if (stopping)
      return;
    lock.lock();
  }
}

void EventFeed::flush(std::vector<nlohmann::json> batch) {
  std::string correlation = batch.size() == 1 ? batch.front().value("workflow_id", "") : "";
  std::size_t n = batch.size();
  auto envelope =
      messaging::Envelope::make("workflow.events", nlohmann::json{{"events", std::move(batch)}},
                                connection_.options().service);
  envelope.correlation_id = correlation;
  messaging::Outgoing out;
  out.exchange = exchange_;
  out.routing_key = "workflow.events";
  out.envelope = std::move(envelope);
  out.delivery = messaging::Delivery::kTransient;
  out.timeout = std::chrono::seconds(5);
  connection_.publish(std::move(out), [counters = counters_, n](Status s) {
    if (s.ok()) {
      counters->published += n;
    } else {
      counters->dropped += n;
    }
  });
}

}  // namespace wonderland::mediator
