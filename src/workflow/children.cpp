// The workflow and map steps of the Decider. Both run child workflows, which the engine core
// starts, cancels and undoes on request (ChildEffect) and whose ends it reports here
// (child_ended). A workflow step runs one child and takes its output; a map step runs one child
// per element of its items, at most `concurrency` at a time, and collects their outputs in
// order. Undoing either (the saga) undoes its completed children, latest index first.
#include <algorithm>

#include "decisions.hpp"

namespace wonderland::workflow::detail {

using nlohmann::json;

ChildEnd ChildEnd::of(const JournalRecord& settling) {
  ChildEnd end;
  end.status = settling.status.value_or(WorkflowStatus::kFailed);
  end.output = settling.data.value("output", json());
  end.reason = settling.data.value("reason", std::string{});
  Code code = end.status == WorkflowStatus::kCancelled ? codes::kCancelled : codes::kInternal;
  if (auto e = settling.data.find("error"); e != settling.data.end() && e->is_object())
    code = parse_code(e->value("code", std::string{})).value_or(code);
  end.error = Error::of(code, end.reason).with_retryable(false);  // the child has ended
  return end;
}

void Decider::start_child(Instance& inst, const Step& step) {
  auto input = step_input(inst, step);
  if (!input) {
    fail_at_start(inst, step, 0,
                  Error::of(codes::kInvalidArgument, "input: " + input.error().message));
    return;
  }
  if (!input->is_object()) {
    fail_at_start(inst, step, 0,
                  Error::of(codes::kInvalidArgument,
                            std::string("input: must be an object, not ") + input->type_name()));
    return;
  }
  auto def = step.version > 0 ? registry_.find(step.definition, step.version)
                              : registry_.latest(step.definition);
  if (!def) {
    fail_at_start(inst, step, 0,
                  Error::of(codes::kNotFound,
                            "no workflow definition " + step.definition +
                                (step.version > 0 ? " v" + std::to_string(step.version) : "")));
    return;
  }
  unwritten_.record(inst, events::kStepStarted, &step, 0,
                    JsonObject()
                        .add("child_id", child_workflow_id(inst, step, -1))
                        .add("definition", def->name)
                        .add("version", def->version)
                        .add("input", std::move(*input))
                        .done());
  emit_child_start(inst, step, 0);
}

void Decider::start_map(Instance& inst, const Step& step) {
  auto items = step.items_template.render(InstanceScope(inst));
  if (!items) {
    fail_at_start(inst, step, 0,
                  Error::of(codes::kInvalidArgument, "items: " + items.error().message));
    return;
  }
  if (!items->is_array()) {
    fail_at_start(inst, step, 0,
                  Error::of(codes::kInvalidArgument,
                            std::string("items: must be an array, not ") + items->type_name()));
    return;
  }
  const std::size_t count = items->size();
  unwritten_.record(inst, events::kStepStarted, &step, 0,
                    JsonObject()
                        .add("items", std::move(*items))
                        .add("count", count)
                        .add("concurrency", step.concurrency)
                        .done());
}

void Decider::map_progress(Instance& inst, const Step& step) {
  StepState& st = inst.steps[step.index];
  if (st.status != StepStatus::kRunning || st.comp != CompStatus::kNone)
    return;
  std::size_t running = st.count_children(StepStatus::kRunning);
  const std::size_t failed = st.count_children(StepStatus::kFailed);
  if (failed == 0 && !inst.stopping && !inst.paused) {
    const auto limit = static_cast<std::size_t>(step.concurrency);
    for (std::size_t i = 0; i < st.children.size() && running < limit; ++i) {
      if (st.children[i].status != StepStatus::kPending)
        continue;
      unwritten_.record(
          inst, events::kIterationStarted, &step, 0,
          json{{"index", i},
               {"child_id", child_workflow_id(inst, step, static_cast<std::int64_t>(i))}});
      emit_child_start(inst, step, i);
      ++running;
    }
  }
  if (running > 0)
    return;
  const std::size_t succeeded = st.count_children(StepStatus::kSucceeded);
  if (succeeded == st.children.size()) {
    json outputs = json::array();
    for (const ChildRun& c : st.children)
      outputs.push_back(c.output);
    unwritten_.record(
        inst, events::kStepSucceeded, &step, 0,
        JsonObject().add("output", std::move(outputs)).add("duration_ms", elapsed(st)).done());
    return;
  }
  if (failed == 0 && !inst.stopping)
    return;  // paused between iterations
  Error e = Error::of(codes::kCancelled, "stopped");
  std::string why = inst.cancelled ? "the workflow was cancelled" : "another step failed";
  std::string reason = describe_step(step) + " stopped: " + why;
  auto first = std::find_if(st.children.begin(), st.children.end(),
                            [](const ChildRun& c) { return c.status == StepStatus::kFailed; });
  if (first != st.children.end()) {
    e = first->error.value_or(Error::of(codes::kInternal, "failed"));
    reason = describe_step(step) + " failed: iteration " +
             std::to_string(first - st.children.begin()) + " (workflow " + first->id +
             ") failed: " + e.message;
  }
  unwritten_.record(inst, events::kStepFailed, &step, 0,
                    JsonObject()
                        .add("error", e.to_json())
                        .add("duration_ms", elapsed(st))
                        .add("reason", std::move(reason))
                        .add("in_doubt", false)
                        .add("succeeded", succeeded)
                        .add("failed", failed)
                        .done());
}

/// Asks the core to start child `child` of the step (idempotent: see ChildEffect).
void Decider::emit_child_start(Instance& inst, const Step& step, std::size_t child) {
  const StepState& st = inst.steps[step.index];
  ChildEffect e;
  e.action = ChildEffect::Action::kStart;
  e.workflow_id = inst.id;
  e.step = step.path;
  e.child_id = st.children[child].id;
  if (step.kind == StepKind::kWorkflow) {
    e.definition = st.started.value("definition", std::string{});
    e.version = st.started.value("version", 0);
    e.input = st.started.value("input", json::object());
  } else {
    e.definition = step.body->name;
    e.version = step.body->version;
    e.input = inst.input;
    e.item = st.items[child];
    e.index = static_cast<std::int64_t>(child);
  }
  unwritten_.add_effect(std::move(e));
}

void Decider::cancel_children(Instance& inst, const Step& step) {
  StepState& st = inst.steps[step.index];
  if (st.status != StepStatus::kRunning || st.comp != CompStatus::kNone || st.children_cancelled)
    return;
  st.children_cancelled = true;
  const std::string why = inst.cancelled ? "workflow " + inst.id + " was cancelled"
                                         : "a step of workflow " + inst.id + " failed";
  for (const ChildRun& c : st.children) {
    if (c.status != StepStatus::kRunning)
      continue;
    ChildEffect e;
    e.action = ChildEffect::Action::kCancel;
    e.workflow_id = inst.id;
    e.step = step.path;
    e.child_id = c.id;
    e.reason = why;
    unwritten_.add_effect(std::move(e));
  }
}

void Decider::child_ended(Instance& inst, const Step& step, const std::string& child_id,
                          const ChildEnd& end) {
  StepState& st = inst.steps[step.index];
  auto it = std::find_if(st.children.begin(), st.children.end(),
                         [&](const ChildRun& c) { return c.id == child_id; });
  if (it == st.children.end())
    return;
  const auto index = static_cast<std::size_t>(it - st.children.begin());
  if (st.comp == CompStatus::kRunning) {
    child_undone(inst, step, index, end);
    return;
  }
  if (st.status != StepStatus::kRunning || it->status != StepStatus::kRunning ||
      end.status == WorkflowStatus::kNeedsAttention) {
    return;  // a child that needs attention holds the step until an operator settles it
  }
  if (step.kind == StepKind::kWorkflow) {
    workflow_step_ended(inst, step, child_id, end);
    return;
  }
  JsonObject data;
  data.add("index", index).add("child_id", child_id);
  if (end.status == WorkflowStatus::kCompleted) {
    unwritten_.record(inst, events::kIterationSucceeded, &step, 0,
                      data.add("output", end.output).done());
  } else {
    unwritten_.record(inst, events::kIterationFailed, &step, 0,
                      data.add("error", end.error.to_json()).add("reason", end.reason).done());
  }
}

/// A workflow step's child ended: the step succeeds with its output or fails.
void Decider::workflow_step_ended(Instance& inst, const Step& step, const std::string& child_id,
                                  const ChildEnd& end) {
  const StepState& st = inst.steps[step.index];
  if (end.status == WorkflowStatus::kCompleted) {
    unwritten_.record(inst, events::kStepSucceeded, &step, 0,
                      JsonObject()
                          .add("output", end.output)
                          .add("child_id", child_id)
                          .add("duration_ms", elapsed(st))
                          .done());
    return;
  }
  const char* what = end.status == WorkflowStatus::kCancelled ? "was cancelled" : "failed";
  unwritten_.record(inst, events::kStepFailed, &step, 0,
                    JsonObject()
                        .add("error", end.error.to_json())
                        .add("duration_ms", elapsed(st))
                        .add("reason", describe_step(step) + " failed: workflow " + child_id + " " +
                                           what + (end.reason.empty() ? "" : ": " + end.reason))
                        .add("in_doubt", false)
                        .add("child_id", child_id)
                        .done());
}

/// A child being undone ended: undone (cancelled or failed), or stuck (needs attention).
void Decider::child_undone(Instance& inst, const Step& step, std::size_t index,
                           const ChildEnd& end) {
  const StepState& st = inst.steps[step.index];
  const ChildRun& child = st.children[index];
  if (child.status != StepStatus::kSucceeded || child.undone ||
      end.status == WorkflowStatus::kCompleted)
    return;
  if (end.status == WorkflowStatus::kNeedsAttention) {
    compensation_failed(inst, step, 1,
                        Error::of(codes::kFailedPrecondition,
                                  "workflow " + child.id + " needs attention: " + end.reason),
                        elapsed(st));
    return;
  }
  unwritten_.record(inst, events::kIterationUndone, &step, 0,
                    json{{"index", index}, {"child_id", child.id}});
  undo_next(inst, step);
}

void Decider::resume_children(Instance& inst, const Step& step) {
  const StepState& st = inst.steps[step.index];
  if (st.comp == CompStatus::kRunning) {
    undo_next(inst, step);
    return;
  }
  if (st.status != StepStatus::kRunning)
    return;
  for (std::size_t i = 0; i < st.children.size(); ++i) {
    if (st.children[i].status == StepStatus::kRunning)
      emit_child_start(inst, step, i);
  }
}

void Decider::start_undo(Instance& inst, const Step& step) {
  const StepState& st = inst.steps[step.index];
  json children = json::array();
  for (auto it = st.children.rbegin(); it != st.children.rend(); ++it) {
    if (it->status == StepStatus::kSucceeded && !it->undone)
      children.push_back(it->id);
  }
  unwritten_.record(inst, events::kCompensationStarted, &step, 1,
                    json{{"children", std::move(children)}});
  undo_next(inst, step);
}

/// Undoes the completed child of the highest index not yet undone; the compensation succeeds
/// once none is left.
void Decider::undo_next(Instance& inst, const Step& step) {
  const StepState& st = inst.steps[step.index];
  for (auto it = st.children.rbegin(); it != st.children.rend(); ++it) {
    if (it->status != StepStatus::kSucceeded || it->undone)
      continue;
    ChildEffect e;
    e.action = ChildEffect::Action::kUndo;
    e.workflow_id = inst.id;
    e.step = step.path;
    e.child_id = it->id;
    e.reason = "undone: workflow " + inst.id + " compensates step '" + step.id + "'";
    unwritten_.add_effect(std::move(e));
    return;
  }
  unwritten_.record(inst, events::kCompensationSucceeded, &step, st.comp_attempt,
                    JsonObject().add("duration_ms", elapsed(st)).done());
}

}  // namespace wonderland::workflow::detail
