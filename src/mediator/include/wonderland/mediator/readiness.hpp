// Whether the services a mediator's workflows need are there: every command queue that the task
// steps of its loaded definitions (and their compensations) send to must have a consumer. A
// thread of its own (runtime::Periodic) asks the broker every interval, so GET /readyz only
// reads the last answer and never waits on the broker. Readiness waits for the services once,
// at start (Snapshot::ready_once).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/messaging/connection.hpp"
#include "wonderland/runtime/periodic.hpp"
#include "wonderland/workflow/definition.hpp"

namespace wonderland::mediator {

/// The services that the task steps and compensations of every registered definition call,
/// sorted, each once (publish steps go to the events exchange: no service of theirs is named).
std::vector<std::string> task_services(const workflow::DefinitionRegistry& registry);

class ConsumerReadiness {
 public:
  /// What the last check found.
  struct Snapshot {
    /// Consumers per queue (0 for a queue that does not exist); nullopt where the broker could
    /// not be asked (disconnected, no answer in time).
    std::map<std::string, std::optional<std::uint32_t>> consumers;
    bool checked = false;  ///< a check has completed
    /// Some check since start found every queue with a consumer. /readyz waits for that once,
    /// so the first requests after start do not time out; a service that dies later does not
    /// take the mediator out of its balancer (its catalogue and order views still answer, and
    /// orders wait for the service within their retry budget), and `services` shows it.
    bool ready_once = false;

    /// Checked, and every queue has a consumer now.
    bool ready() const;
  };

  /// Checks `queues` at once, then every `interval` (each question waits at most `interval`).
  ConsumerReadiness(messaging::Connection& connection, std::vector<messaging::QueueName> queues,
                    std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~ConsumerReadiness();  ///< stops checking
  ConsumerReadiness(const ConsumerReadiness&) = delete;
  ConsumerReadiness& operator=(const ConsumerReadiness&) = delete;

  Snapshot snapshot() const;

 private:
  void check();

  messaging::Connection& connection_;
  const std::vector<messaging::QueueName> queues_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  Snapshot last_;
  std::string logged_verdict_;                   ///< the periodic thread's only
  std::unique_ptr<runtime::Periodic> periodic_;  // last: started once the rest is there
};

}  // namespace wonderland::mediator
