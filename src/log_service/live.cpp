#include "wonderland/log_service/live.hpp"

#include <spdlog/spdlog.h>

#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/topology.hpp"

namespace wonderland::log_service {

std::vector<std::string> live_binding_keys(const log_store::Filter& filter) {
  std::vector<log_store::Severity> severities;
  for (int s = 0; s <= static_cast<int>(log_store::Severity::kError); ++s) {
    auto sev = static_cast<log_store::Severity>(s);
    if (filter.severity && sev != *filter.severity)
      continue;
    if (filter.min_severity && sev < *filter.min_severity)
      continue;
    severities.push_back(sev);
  }
  if (severities.empty())
    return {};  // nothing can match
  // A service name narrows the key only when it is a single topic word.
  bool by_service = filter.service && !filter.service->empty() &&
                    filter.service->find_first_of(".*#") == std::string::npos;
  if (severities.size() == 4 && !by_service)
    return {"#"};
  std::vector<std::string> keys;
  for (auto sev : severities) {
    std::string key(log_store::to_string(sev));
    key += by_service ? "." + *filter.service : std::string(".#");
    keys.push_back(std::move(key));
  }
  return keys;
}

LiveSubscription::LiveSubscription(messaging::Connection& connection, log_store::Filter filter,
                                   Callback on_record, LiveOptions options)
    : connection_(connection), queue_(options.queue_prefix + "." + new_uuid()) {
  declare_live_exchange(connection_, options.exchange);
  messaging::QueueSpec spec;
  spec.name = queue_;
  spec.durable = false;
  spec.exclusive = true;
  spec.auto_delete = true;
  spec.dead_letter_exchange.reset();  // what a slow subscriber misses is simply gone
  spec.max_length = options.max_queued;
  connection_.declare(spec);
  for (const auto& key : live_binding_keys(filter)) {
    connection_.declare(messaging::BindingSpec{queue_, options.exchange, key});
  }
  messaging::ConsumerOptions consumer;
  consumer.queue = queue_;
  consumer.prefetch = 256;
  consumer.max_attempts = 1;
  consumer.concurrency = 1;
  consumer.keep_dead_letters = false;
  consumer_ = connection_.consume(
      consumer, [filter = std::move(filter), on_record = std::move(on_record)](
                    const messaging::Envelope& e, const messaging::DeliveryInfo&) {
        auto record = record_from_live(e);
        if (!record || !filter.matches(*record))
          return;
        try {
          on_record(*record);
        } catch (const std::exception& ex) {
          spdlog::warn("live log subscriber failed: {}", ex.what());
        }
      });
}

LiveSubscription::~LiveSubscription() {
  consumer_.cancel();
  try {
    connection_.delete_queue(queue_, std::chrono::seconds(5));
  } catch (const std::exception& e) {
    spdlog::debug("could not delete live queue {}: {}", queue_.str(), e.what());
  }
}

}  // namespace wonderland::log_service
