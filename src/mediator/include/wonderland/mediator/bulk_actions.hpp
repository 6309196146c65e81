// Bulk operator actions (POST /api/workflows/bulk): retry, cancel, pause or resume every workflow
// a filter matches, as a job that runs in the background and counts what it did.
//
//  - The matching ids are read when the job starts, a page of the journal at a time (the same
//    query as GET /api/workflows), and the job acts on exactly those: a workflow that starts to
//    match later is not in it.
//  - Each workflow goes through the same path as the single-workflow routes (at its owner when
//    several mediators share a journal), a few at a time, from the job's own thread: neither the
//    HTTP threads nor the engine's wait for it.
//  - A workflow the action does not apply to (any more), such as one that ended meanwhile, is
//    `skipped` (not_found, failed_precondition, conflict); any other error is `failed`. The
//    first few of either keep their reason. Neither fails the job, which always ends `finished`.
//  - At most max_running jobs run at once (another one is refused as resource_exhausted) and
//    max_kept jobs are kept, the oldest finished ones forgotten first.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::mediator {

enum class BulkAction { kRetry, kCancel, kPause, kResume };

/// `retry`, `cancel`, `pause`, `resume`.
std::string_view to_string(BulkAction action);
std::optional<BulkAction> parse_bulk_action(std::string_view text);

struct BulkOptions {
  std::size_t max_running = 2;       ///< Jobs running at once.
  std::size_t max_kept = 20;         ///< Jobs kept, running or finished.
  std::size_t max_matched = 100000;  ///< Workflows one job may cover.
  std::size_t in_flight = 8;         ///< Actions a job waits for at once.
  std::size_t kept_reasons = 10;     ///< Skipped or failed workflows whose reason is kept.
};

class BulkActions {
 public:
  /// One page of the journal's workflows (Engine::list).
  using Lister = std::function<Result<workflow::WorkflowPage>(const workflow::WorkflowQuery&)>;
  /// Carries out `action` on one workflow (`reason`: a cancel's) as the single-workflow route
  /// does; `done` runs once, on any thread.
  using Submitter = std::function<void(BulkAction action, const std::string& workflow_id,
                                       const std::string& reason,
                                       std::function<void(const wonderland::Status&)>)>;

  BulkActions(Lister list, Submitter submit, BulkOptions options = {});
  /// Stops the running jobs once their actions in flight are answered.
  ~BulkActions();
  BulkActions(const BulkActions&) = delete;
  BulkActions& operator=(const BulkActions&) = delete;

  /// The ids of the workflows `filter` matches, newest first; `invalid_argument` when there are
  /// more than max_matched. Reads the journal on the calling thread.
  Result<std::vector<std::string>> match(workflow::WorkflowQuery filter) const;
  /// Starts a job acting on `ids`, which `filter` matched; returns the job's view.
  /// `resource_exhausted` (retryable) while max_running jobs run. `reason` is a cancel's.
  Result<nlohmann::json> start(BulkAction action, const workflow::WorkflowQuery& filter,
                               std::vector<std::string> ids, std::string reason);
  /// A job's view, or nullopt when unknown (or forgotten).
  std::optional<nlohmann::json> job(const std::string& id) const;
  /// Every job kept, newest first.
  nlohmann::json jobs() const;

 private:
  struct Job;
  void run(const std::shared_ptr<Job>& job);

  Lister list_;
  Submitter submit_;
  BulkOptions options_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<Job>> jobs_;  ///< Oldest first.
};

}  // namespace wonderland::mediator
