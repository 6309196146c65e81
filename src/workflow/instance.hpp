// The state of one workflow instance, and the one function that changes it.
//
// State is a fold over journal records: apply() is used both live (right after the engine
// decides a record) and during recovery (replaying the journal), so a rebuilt instance is
// exactly the one that was running.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/workflow/clock.hpp"
#include "wonderland/workflow/definition.hpp"
#include "wonderland/workflow/journal.hpp"
#include "wonderland/workflow/template.hpp"

namespace wonderland::workflow::detail {

/// kSkipped: a signal step's timeout jumped over it (on_timeout).
enum class StepStatus : std::uint8_t { kPending, kRunning, kSucceeded, kFailed, kSkipped };
enum class CompStatus : std::uint8_t { kNone, kRunning, kDone, kFailed };
enum class Phase : std::uint8_t { kRunning, kCompensating, kFinished };

/// Choice: the default branch was taken (also when there is none).
inline constexpr int kDefaultCase = -1;

/// A child workflow of a workflow step (one) or of a map step (one per item, by index).
struct ChildRun {
  std::string id;  ///< Empty while the iteration has not started.
  StepStatus status = StepStatus::kPending;
  bool undone = false;  ///< Compensated after it completed (iteration_undone).
  nlohmann::json output;
  std::optional<Error> error;
};

struct StepState {
  StepStatus status = StepStatus::kPending;
  CompStatus comp = CompStatus::kNone;
  bool in_flight = false;  ///< An attempt (or compensation attempt) awaits its outcome.
  bool waiting = false;    ///< A failed attempt waits for its backoff (a wait step: its end).
  int attempt = 0;
  int comp_attempt = 0;
  int epoch = 0;       ///< Suffix of the idempotency key; see docs/workflows.md, "Retry".
  int comp_epoch = 0;  ///< Same for the compensation.
  int chosen = kDefaultCase;
  std::int64_t started_ms = 0;        ///< When the step, or its current attempt, started.
  std::int64_t first_started_ms = 0;  ///< When the step's first attempt (of this run) started.
  std::int64_t retry_at_ms = 0;       ///< When waiting: when the next attempt (or end) is due.
  std::uint64_t token = 0;            ///< Matches replies and timers to the current attempt.
  TimerId timer = 0;
  nlohmann::json output;
  std::optional<Error> error;  ///< The last error of the step (or of its compensation).
  // workflow and map steps
  nlohmann::json started;           ///< The data of its step_started record.
  nlohmann::json items;             ///< map: the elements, as recorded when it started.
  std::vector<ChildRun> children;   ///< workflow: its child; map: one per element.
  bool children_cancelled = false;  ///< Not journaled: a cancel was sent to the running ones.

  /// How many children are `wanted`.
  std::size_t count_children(StepStatus wanted) const;
};

/// A signal recorded and not yet taken by a signal step.
struct PendingSignal {
  std::string name;
  std::string id;
  nlohmann::json payload;
};

struct Instance {
  std::string id;
  std::shared_ptr<const Definition> def;
  nlohmann::json input;
  /// Null until the workflow fails or is cancelled; then
  /// {"reason", "step", "code", "message", "cancelled"}.
  nlohmann::json failure;
  WorkflowStatus status = WorkflowStatus::kRunning;
  Phase phase = Phase::kRunning;
  bool stopping = false;  ///< A step failed or a cancel came: start no new step.
  bool cancelled = false;
  bool paused = false;  ///< Paused by an operator: start no new step until resumed.
  int run = 0;          ///< Incremented by every workflow retry.
  std::int64_t seq = 0;
  std::uint64_t next_token = 1;
  std::vector<StepState> steps;                ///< Parallel to Definition::steps.
  std::vector<std::size_t> completed;          ///< Compensable steps, in order of success.
  std::vector<PendingSignal> signals;          ///< Received, not yet taken; oldest first.
  std::unordered_set<std::string> signal_ids;  ///< Every signal received (duplicates ignored).
  /// Set when the workflow is the child of a workflow or map step: the parent and its step.
  std::string parent_id;
  std::string parent_step;
  /// A map iteration: its element and index.
  nlohmann::json item;
  std::int64_t index = -1;
  /// Inputs an operator's rerun put in place of a step's input template, by step index.
  std::map<std::size_t, nlohmann::json> input_overrides;

  /// The oldest pending signal named `name`, or nullptr.
  const PendingSignal* pending_signal(const std::string& name) const;
  /// Whether the definition's pivot step succeeded in this run: nothing is undone any more.
  bool decided() const {
    return def->pivot && *def->pivot < steps.size() &&
           steps[*def->pivot].status == StepStatus::kSucceeded;
  }
};

/// The input of a task or publish step: the one a rerun put in its place, else its template
/// rendered over the instance.
Result<nlohmann::json> step_input(const Instance& inst, const Step& step);

/// Applies one record. Fails (`internal`) when the record does not fit the definition.
Status apply(Instance& inst, const JournalRecord& record, std::int64_t at_ms);

/// Milliseconds since the epoch.
std::int64_t to_ms(SystemTime t);

/// The idempotency key of a step's command (`compensation` false) or of its compensation.
std::string idempotency_key(const Instance& inst, const Step& step, bool compensation);

/// The id of the child workflow that a workflow step (`iteration` < 0) or iteration `iteration`
/// of a map step starts: derived from the workflow's id, the step's path and its epoch, so that a
/// start is the same after a restart.
std::string child_workflow_id(const Instance& inst, const Step& step, std::int64_t iteration);

/// Template lookups over an instance: input, workflow, steps.<id>.output, failure; in a map
/// iteration also item and index.
class InstanceScope final : public TemplateScope {
 public:
  explicit InstanceScope(const Instance& inst) : inst_(inst) {}
  const nlohmann::json* resolve(std::span<const std::string> segments) const override;

 private:
  const Instance& inst_;
  mutable nlohmann::json scratch_;  ///< Holds `workflow.*` values while they are copied.
};

}  // namespace wonderland::workflow::detail
