// Decisions: what a workflow does next, given its state and the outcome that just arrived. The
// Decider walks the step tree (sequences, parallel branches, choices), starts attempts, decides
// retries and failures, and runs the saga when a workflow fails: compensations of completed
// steps in reverse order (compensation.cpp), then the `on_failure` steps. Every decision is a
// journal record added to UnwrittenRecords, with the effects that carry it out.
//
// New step kinds belong here. A signal step is started in start_step() and completed by an
// outcome like a task's; a wait step records its end when it starts and then waits on a timer
// like a retry's backoff. Workflow and map steps run child workflows (children.cpp): they ask
// the engine core through ChildEffects and learn of each child's end through child_ended().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine_metrics.hpp"
#include "instance.hpp"
#include "unwritten_records.hpp"
#include "wonderland/workflow/clock.hpp"
#include "wonderland/workflow/definition.hpp"

namespace wonderland::workflow::detail {

/// How a child workflow ended: its settling record (completed, failed, cancelled,
/// needs_attention).
struct ChildEnd {
  WorkflowStatus status = WorkflowStatus::kFailed;
  nlohmann::json output;
  Error error;
  std::string reason;

  static ChildEnd of(const JournalRecord& settling);
};

/// "step '<id>' (<what it does>)", for reasons.
std::string describe_step(const Step& step);

/// Engine thread only.
class Decider {
 public:
  Decider(UnwrittenRecords& unwritten, Clock& clock, MetricsRecorder& metrics,
          const DefinitionRegistry& registry, const RetryPolicy& compensation_retry,
          std::uint64_t seed)
      : unwritten_(unwritten),
        clock_(clock),
        registry_(registry),
        metrics_(metrics),
        compensation_retry_(compensation_retry),
        rng_(seed) {}

  /// Moves the workflow as far as it can go without waiting for anything.
  void advance(Instance& inst);
  /// Records the outcome of the current attempt of step `index` (or of its compensation): its
  /// success, a retry after backoff, or its failure.
  void handle_outcome(Instance& inst, std::size_t index, Result<nlohmann::json> outcome);
  /// The backoff of step `index` is over: starts its next attempt (a wait step: it succeeds).
  void next_attempt(Instance& inst, std::size_t index);
  /// A signal named `name` was recorded: the first signal step waiting for it takes it.
  void deliver_signal(Instance& inst, const std::string& name);
  /// Child `child_id` of workflow or map step `step` ended (children.cpp).
  void child_ended(Instance& inst, const Step& step, const std::string& child_id,
                   const ChildEnd& end);
  /// After a restart: asks again for what a workflow or map step waits for (its running
  /// children started, the child being undone undone).
  void resume_children(Instance& inst, const Step& step);
  /// Queues the effect that carries the step's current attempt.
  void emit(Instance& inst, const Step& step, nlohmann::json input, std::string key,
            bool compensation);

 private:
  enum class Flow { kDone, kRunning, kFailed, kBlocked };
  /// When an attempt's outcome arrived and how long the attempt took, in milliseconds.
  struct AttemptTime {
    std::int64_t now_ms;
    std::int64_t duration_ms;
  };

  // Forward execution (decisions.cpp).
  Flow run_sequence(Instance& inst, const std::vector<std::size_t>& seq, bool forward);
  Flow run_composite(Instance& inst, const Step& step, bool forward);
  void start_step(Instance& inst, const Step& step);
  void start_attempt(Instance& inst, const Step& step, int attempt);
  void start_wait(Instance& inst, const Step& step);
  void finish_wait(Instance& inst, const Step& step);

  // Signal steps (signals.cpp).
  void start_signal(Instance& inst, const Step& step);
  void take_signal(Instance& inst, const Step& step, const PendingSignal& signal);
  void signal_timed_out(Instance& inst, const Step& step);
  // Workflow and map steps (children.cpp).
  void start_child(Instance& inst, const Step& step);
  void start_map(Instance& inst, const Step& step);
  /// Starts the iterations a map step may run now; records its end once every one settled.
  void map_progress(Instance& inst, const Step& step);
  void emit_child_start(Instance& inst, const Step& step, std::size_t child);
  void cancel_children(Instance& inst, const Step& step);
  void workflow_step_ended(Instance& inst, const Step& step, const std::string& child_id,
                           const ChildEnd& end);
  void child_undone(Instance& inst, const Step& step, std::size_t index, const ChildEnd& end);
  void start_undo(Instance& inst, const Step& step);
  void undo_next(Instance& inst, const Step& step);

  /// Records that `step` failed as it started (its input or its values were invalid).
  void fail_at_start(Instance& inst, const Step& step, int attempt, const Error& e);
  void stop_after_pivot(Instance& inst);
  void record_retry(Instance& inst, std::size_t index, const Error& err, int attempt,
                    AttemptTime time, bool compensation);
  void stop_waiting_steps(Instance& inst);
  void complete(Instance& inst);

  // The saga (compensation.cpp).
  bool run_compensations(Instance& inst);
  void start_compensation_attempt(Instance& inst, const Step& step, int attempt);
  void compensation_failed(Instance& inst, const Step& step, int attempt, const Error& err,
                           std::int64_t duration);
  void finish_failed(Instance& inst);

  std::int64_t elapsed(const StepState& st) const;
  std::chrono::milliseconds jittered(std::chrono::milliseconds base, double jitter);

  UnwrittenRecords& unwritten_;
  Clock& clock_;
  const DefinitionRegistry& registry_;
  MetricsRecorder& metrics_;
  const RetryPolicy& compensation_retry_;
  std::mt19937_64 rng_;
};

}  // namespace wonderland::workflow::detail
