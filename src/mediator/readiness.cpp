#include "wonderland/mediator/readiness.hpp"

#include <set>

#include "wonderland/log/log.hpp"

namespace wonderland::mediator {

std::vector<std::string> task_services(const workflow::DefinitionRegistry& registry) {
  std::set<std::string> services;
  for (const auto& definition : registry.all()) {
    for (const workflow::Step& step : definition->steps) {
      if (step.kind != workflow::StepKind::kTask)
        continue;
      services.insert(step.service);
      if (step.compensation && !step.compensation->service.empty())
        services.insert(step.compensation->service);
    }
  }
  return {services.begin(), services.end()};
}

bool ConsumerReadiness::Snapshot::ready() const {
  if (!checked)
    return false;
  for (const auto& [queue, count] : consumers) {
    if (!count || *count == 0)
      return false;
  }
  return true;
}

ConsumerReadiness::ConsumerReadiness(messaging::Connection& connection,
                                     std::vector<messaging::QueueName> queues,
                                     std::chrono::milliseconds interval)
    : connection_(connection), queues_(std::move(queues)), timeout_(interval) {
  periodic_ = std::make_unique<runtime::Periodic>(
      "readiness", interval, [this] { check(); }, runtime::Periodic::First::kAtStart);
}

ConsumerReadiness::~ConsumerReadiness() {
  periodic_->stop();
}

ConsumerReadiness::Snapshot ConsumerReadiness::snapshot() const {
  std::lock_guard lock(mu_);
  return last_;
}

void ConsumerReadiness::check() {
  Snapshot now;
  now.checked = true;
  std::string missing;  // the queues without a consumer, for the log
  for (const messaging::QueueName& queue : queues_) {
    Result<messaging::QueueStatus> status = connection_.queue_status(queue, timeout_);
    std::optional<std::uint32_t> consumers;
    if (status.ok())
      consumers = status->consumers;
    else if (status.error().code == codes::kNotFound)
      consumers = 0;
    if (consumers == 0u)
      missing += (missing.empty() ? "" : ", ") + queue.str();
    now.consumers[queue.str()] = consumers;
  }
  {
    std::lock_guard lock(mu_);
    now.ready_once = last_.ready_once || now.ready();
    last_ = now;
  }
  // Logged when the verdict changes (the broker's own failures are logged by the connection).
  std::string verdict = now.ready() ? "ready" : missing.empty() ? "unknown" : missing;
  if (verdict == logged_verdict_)
    return;
  logged_verdict_ = verdict;
  if (now.ready())
    log::info("readiness: every service the workflows call consumes its command queue");
  else if (!missing.empty())
    log::warn("readiness: not ready, no consumer on {}", missing);
}

}  // namespace wonderland::mediator
