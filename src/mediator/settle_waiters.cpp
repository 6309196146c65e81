#include "wonderland/mediator/settle_waiters.hpp"

#include <algorithm>

namespace wonderland::mediator {

SettleWaiters::~SettleWaiters() {
  std::lock_guard lock(mu_);
  for (auto& [id, waiters] : waiting_) {
    for (auto& w : waiters) {
      w->claimed = true;
      clock_.cancel(w->timer);
    }
  }
  waiting_.clear();
}

void SettleWaiters::wait(const std::string& id, std::chrono::milliseconds timeout,
                         std::function<void()> done) {
  auto waiter = std::make_shared<Waiter>();
  waiter->done = std::move(done);
  std::lock_guard lock(mu_);
  waiting_[id].push_back(waiter);
  // The timer's callback takes the mutex, so it cannot run before the id is stored below.
  waiter->timer = clock_.schedule(timeout, [this, id, weak = std::weak_ptr<Waiter>(waiter)] {
    std::function<void()> run;
    {
      std::lock_guard held(mu_);
      auto w = weak.lock();
      if (!w || w->claimed)
        return;
      w->claimed = true;
      run = std::move(w->done);
      auto it = waiting_.find(id);
      if (it != waiting_.end()) {
        std::erase(it->second, w);
        if (it->second.empty())
          waiting_.erase(it);
      }
    }
    run();
  });
}

void SettleWaiters::fire(const std::shared_ptr<Waiter>& waiter) {
  if (waiter->claimed)
    return;
  waiter->claimed = true;
  clock_.cancel(waiter->timer);
  clock_.schedule(std::chrono::milliseconds(0), std::move(waiter->done));
}

void SettleWaiters::settle_now(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = waiting_.find(id);
  if (it == waiting_.end())
    return;
  for (const auto& w : it->second)
    fire(w);
  waiting_.erase(it);
}

bool SettleWaiters::settles(const workflow::WorkflowEvent& event) {
  const auto& status = event.record.status;
  return status && *status != workflow::WorkflowStatus::kRunning;
}

bool SettleWaiters::answers(const workflow::WorkflowEvent& event,
                            const workflow::DefinitionRegistry& registry) {
  if (settles(event))
    return true;
  if (event.record.type != workflow::events::kStepSucceeded)
    return false;
  auto def = registry.find(event.definition, event.version);
  return def && def->decides(event.record.type, event.record.step);
}

workflow::Observer SettleWaiters::observer(const workflow::DefinitionRegistry& registry) {
  return [weak = weak_from_this(), &registry](const workflow::WorkflowEvent& event) {
    if (!answers(event, registry))
      return;
    if (auto self = weak.lock())
      self->settle_now(event.record.workflow_id);
  };
}

std::size_t SettleWaiters::waiting() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, waiters] : waiting_)
    n += waiters.size();
  return n;
}

}  // namespace wonderland::mediator
