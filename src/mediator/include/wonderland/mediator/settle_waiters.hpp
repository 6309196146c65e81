// Long polls: callers that wait for a workflow to settle (leave `running`) or for a timeout,
// whichever comes first, without a thread or a poll loop each.
//
//   waiters.wait(id, 10s, [] { /* answer with the workflow's state, settled or not */ });
//
// The engine's observer wakes the waiters of a workflow when it records a status other than
// running, or when its pivot step succeeds (the workflow is decided: an order is confirmed
// then, though its announcement may still be on its way). A caller registers first and then checks
// the status itself (settle_now), so a workflow that settled in between is not missed. Each waiter
// runs exactly once, on the waiters' own thread (never the engine's), so it may read the journal.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "wonderland/workflow/clock.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::mediator {

class SettleWaiters : public std::enable_shared_from_this<SettleWaiters> {
 public:
  SettleWaiters() = default;
  /// Pending waiters are dropped without running (the HTTP server has stopped by then).
  ~SettleWaiters();
  SettleWaiters(const SettleWaiters&) = delete;
  SettleWaiters& operator=(const SettleWaiters&) = delete;

  /// Runs `done` once: after workflow `id` settles, or `timeout` from now.
  void wait(const std::string& id, std::chrono::milliseconds timeout, std::function<void()> done);
  /// Wakes the waiters of `id` now (a caller that saw it settled after registering).
  void settle_now(const std::string& id);
  /// An engine observer that wakes the waiters of every workflow that settles or is decided
  /// (answers). It holds the waiters weakly (they must be owned by a shared_ptr): once they are
  /// gone it does nothing. `registry` (the definitions) must outlive it.
  workflow::Observer observer(const workflow::DefinitionRegistry& registry);
  /// Whether the event settles its workflow (records a status other than running).
  static bool settles(const workflow::WorkflowEvent& event);
  /// Whether a waiter of the event's workflow has its answer: the event settles the workflow or
  /// is its pivot's success.
  static bool answers(const workflow::WorkflowEvent& event,
                      const workflow::DefinitionRegistry& registry);

  std::size_t waiting() const;

 private:
  struct Waiter {
    std::function<void()> done;
    workflow::TimerId timer = 0;
    bool claimed = false;
  };
  /// Runs the waiter on the clock's thread unless it ran already; the caller holds mu_.
  void fire(const std::shared_ptr<Waiter>& waiter);

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> waiting_;
  /// Last: destroyed first, so that its thread has stopped before the map goes.
  workflow::SystemClock clock_;
};

}  // namespace wonderland::mediator
