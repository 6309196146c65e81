#include "signal_events.hpp"

#include <future>
#include <stdexcept>
#include <utility>

#include "wonderland/messaging/consumer.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/messaging/topology.hpp"

namespace wonderland::mediator {
namespace {

Error malformed(std::string why) {
  return Error::of(codes::kInvalidArgument, std::move(why));
}

}  // namespace

messaging::QueueName SignalEvents::queue(const std::string& queue_prefix) {
  return messaging::QueueName{queue_prefix + "mediator.signals"};
}

Result<OwnerRequest> SignalEvents::parse(const messaging::Envelope& event) {
  const std::string prefix = kSignalEventPrefix;
  if (event.type.rfind(prefix, 0) != 0 || event.type.size() == prefix.size())
    return malformed("type '" + event.type + "' is not " + prefix + "<name>");
  if (event.correlation_id.empty())
    return malformed("correlation_id (the workflow id) is required");
  OwnerRequest request;
  request.kind = OwnerRequest::Kind::kSignal;
  request.workflow_id = event.correlation_id;
  request.signal = event.type.substr(prefix.size());
  request.signal_id = event.message_id;
  const nlohmann::json& body = event.body;
  if (auto id = body.find("signal_id"); id != body.end() && !id->is_null()) {
    if (!id->is_string() || id->get_ref<const std::string&>().empty())
      return malformed("body.signal_id must be a non-empty string");
    request.signal_id = id->get<std::string>();
  }
  if (auto payload = body.find("payload"); payload != body.end() && !payload->is_null()) {
    if (!payload->is_object())
      return malformed("body.payload must be an object");
    request.payload = *payload;
  }
  if (request.signal_id.empty())
    return malformed("message_id or body.signal_id is required");
  return request;
}

SignalEvents::SignalEvents(messaging::Connection& connection, workflow::Engine& engine,
                           OwnerRequests* owners, const std::string& queue_prefix)
    : engine_(engine), owners_(owners) {
  messaging::Subscription sub;
  sub.exchange = messaging::exchanges::kEvents;
  sub.queue = queue(queue_prefix);
  sub.binding_keys = {std::string(kSignalEventPrefix) + "*"};
  sub.prefetch = 16;
  sub.concurrency = 2;  // the handler waits for the engine's commit
  consumer_ = messaging::subscribe(
      connection, sub,
      [this](const messaging::Envelope& e, const messaging::DeliveryInfo&) { handle(e); });
}

SignalEvents::~SignalEvents() {
  consumer_.cancel();
}

void SignalEvents::handle(const messaging::Envelope& event) {
  auto request = parse(event);
  if (!request)
    throw messaging::PoisonMessage("malformed signal: " + request.error().message);
  std::promise<Status> answered;
  auto done = [&answered](const Status& st) { answered.set_value(st); };
  if (owners_ != nullptr) {
    owners_->submit(*request, done);
  } else {
    carry_out(engine_, *request, done);
  }
  Status st = answered.get_future().get();
  if (st)
    return;
  const Error& e = st.error();
  std::string why = "signal '" + request->signal + "' for workflow " + request->workflow_id +
                    " refused: " + std::string(to_string(e.code)) + ": " + e.message;
  if (e.retryable)
    throw std::runtime_error(why);  // tried again after a backoff, then dead-lettered
  throw messaging::PoisonMessage(why);
}

}  // namespace wonderland::mediator
