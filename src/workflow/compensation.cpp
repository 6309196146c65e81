// The saga half of the Decider: once a workflow failed or was cancelled, the compensations of
// its completed steps run latest first, one at a time, each retried under the engine's
// compensation_retry policy; a compensation that gives up leaves the workflow needing attention.
// Workflow and map steps are undone by undoing their completed child workflows (children.cpp).
#include <algorithm>

#include "decisions.hpp"

namespace wonderland::workflow::detail {

using nlohmann::json;

/// Compensates completed steps, latest first, one at a time. True when all are done.
bool Decider::run_compensations(Instance& inst) {
  for (auto it = inst.completed.rbegin(); it != inst.completed.rend(); ++it) {
    StepState& st = inst.steps[*it];
    if (st.comp == CompStatus::kDone)
      continue;
    if (st.comp == CompStatus::kNone) {
      const Step& step = inst.def->steps[*it];
      if (step.runs_children())
        start_undo(inst, step);
      else
        start_compensation_attempt(inst, step, 1);
    }
    return false;
  }
  return true;
}

void Decider::start_compensation_attempt(Instance& inst, const Step& step, int attempt) {
  const Compensation& c = *step.compensation;
  auto input = c.input_template.render(InstanceScope(inst));
  if (!input) {
    Error e = Error::of(codes::kInvalidArgument, "input: " + input.error().message);
    compensation_failed(inst, step, attempt, e, 0);
    return;
  }
  std::string key = idempotency_key(inst, step, true);
  unwritten_.record(inst,
                    attempt == 1 ? events::kCompensationStarted : events::kCompensationAttempt,
                    &step, attempt,
                    json{{"idempotency_key", key},
                         {"service", c.service},
                         {"action", c.action},
                         {"request", *input},
                         {"timeout_ms", c.timeout.count()}});
  emit(inst, step, std::move(*input), std::move(key), true);
}

void Decider::compensation_failed(Instance& inst, const Step& step, int attempt, const Error& err,
                                  std::int64_t duration) {
  std::string reason = "compensation of step '" + step.id + "' (" +
                       (step.compensation ? step.compensation->action : "undo of its workflows") +
                       ") failed";
  if (attempt > 1)
    reason += " after " + std::to_string(attempt) + " attempts";
  reason += ": " + std::string(to_string(err.code)) + ": " + err.message;
  unwritten_.record(inst, events::kCompensationFailed, &step, attempt,
                    json{{"error", err.to_json()}, {"duration_ms", duration}, {"reason", reason}});
  std::string context = inst.failure.value("reason", "");
  unwritten_.record(
      inst, events::kNeedsAttention, nullptr, 0,
      json{{"reason", reason + (context.empty() ? "" : " (while undoing: " + context + ")")}},
      WorkflowStatus::kNeedsAttention);
}

/// Ends a workflow whose compensations and failure handlers are done: `cancelled` or `failed`.
void Decider::finish_failed(Instance& inst) {
  std::size_t undone = static_cast<std::size_t>(
      std::count_if(inst.completed.begin(), inst.completed.end(),
                    [&](std::size_t i) { return inst.steps[i].comp == CompStatus::kDone; }));
  std::string reason = inst.failure.value("reason", "failed");
  if (inst.cancelled) {
    unwritten_.record(inst, events::kCancelled, nullptr, 0,
                      json{{"reason", std::move(reason)}, {"compensations", undone}},
                      WorkflowStatus::kCancelled);
    return;
  }
  unwritten_.record(inst, events::kFailed, nullptr, 0,
                    json{{"reason", std::move(reason)},
                         {"step", inst.failure.value("step", "")},
                         {"error", json{{"code", inst.failure.value("code", "")},
                                        {"message", inst.failure.value("message", "")}}},
                         {"compensations", undone}},
                    WorkflowStatus::kFailed);
}

}  // namespace wonderland::workflow::detail
