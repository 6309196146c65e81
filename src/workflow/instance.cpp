#include "instance.hpp"

#include <algorithm>

namespace wonderland::workflow::detail {
namespace {

using nlohmann::json;

std::optional<Error> error_of(const json& data) {
  auto it = data.find("error");
  if (it == data.end() || !it->is_object())
    return std::nullopt;
  try {
    return Error::from_json(*it);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::int64_t int_of(const json& data, const char* key) {
  auto it = data.find(key);
  return it != data.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

/// The steps a composite runs: every branch, every case and the default.
template <class Fn>
void for_each_child(const Step& step, Fn&& fn) {
  for (const auto& branch : step.branches) {
    for (std::size_t i : branch)
      fn(i);
  }
  for (const auto& c : step.cases) {
    for (std::size_t i : c.steps)
      fn(i);
  }
  for (std::size_t i : step.default_steps)
    fn(i);
}

/// The steps the composite actually ran (a choice runs one sequence).
template <class Fn>
void for_each_ran_child(const Instance& inst, const Step& step, Fn&& fn) {
  if (step.kind == StepKind::kChoice) {
    int chosen = inst.steps[step.index].chosen;
    const auto& seq = chosen >= 0 && static_cast<std::size_t>(chosen) < step.cases.size()
                          ? step.cases[static_cast<std::size_t>(chosen)].steps
                          : step.default_steps;
    for (std::size_t i : seq)
      fn(i);
    return;
  }
  for_each_child(step, fn);
}

/// Whether a step's success stands after a failure: it succeeded and nothing it did (itself
/// or, for composites, the children it ran) was compensated.
bool kept(const Instance& inst, std::size_t index) {
  const Step& step = inst.def->steps[index];
  const StepState& st = inst.steps[index];
  if (st.status == StepStatus::kSkipped)
    return true;
  if (st.status != StepStatus::kSucceeded || st.comp != CompStatus::kNone)
    return false;
  bool all = true;
  for_each_ran_child(inst, step, [&](std::size_t child) { all = all && kept(inst, child); });
  return all;
}

/// Makes a step (and its children) pending again. The idempotency key changes when the service
/// gave a final answer under the old one (a non-retryable error) or the effect was undone;
/// otherwise the old key is sent again so that an effect that did happen is not repeated.
void reset(Instance& inst, std::size_t index) {
  const Step& step = inst.def->steps[index];
  StepState& st = inst.steps[index];
  const bool final_error = st.status == StepStatus::kFailed && st.error && !st.error->retryable;
  if (st.comp == CompStatus::kDone || st.comp == CompStatus::kFailed || final_error)
    ++st.epoch;
  if (st.comp != CompStatus::kNone)
    ++st.comp_epoch;
  st.status = StepStatus::kPending;
  st.comp = CompStatus::kNone;
  st.in_flight = false;
  st.waiting = false;
  st.attempt = 0;
  st.comp_attempt = 0;
  st.chosen = kDefaultCase;
  st.output = nullptr;
  st.error.reset();
  st.started = nullptr;
  st.items = nullptr;
  st.children.clear();
  st.children_cancelled = false;
  for_each_child(step, [&](std::size_t child) { reset(inst, child); });
}

void reset_sequence(Instance& inst, const std::vector<std::size_t>& seq) {
  bool resetting = false;
  for (std::size_t i : seq) {
    if (!resetting && kept(inst, i))
      continue;
    resetting = true;
    reset(inst, i);
  }
}

/// A rerun: a step that ran (and its children) becomes pending again under a new key, since the
/// operator asks for it to run again rather than for the earlier outcome.
void rerun_reset(Instance& inst, std::size_t index) {
  StepState& st = inst.steps[index];
  if (st.status == StepStatus::kPending)
    return;
  for_each_child(inst.def->steps[index], [&](std::size_t child) { rerun_reset(inst, child); });
  const int epoch = st.epoch;
  reset(inst, index);
  if (st.epoch == epoch)
    ++st.epoch;
}

/// Makes the failed run's steps pending again: from the first step of each sequence that did not
/// stand, and in the top-level sequence from `from` (a rerun's top-level step) at the latest.
void restart(Instance& inst, std::optional<std::size_t> from = std::nullopt) {
  if (from) {
    const auto& root = inst.def->root;
    for (auto it = std::find(root.begin(), root.end(), *from); it != root.end(); ++it)
      rerun_reset(inst, *it);
  }
  reset_sequence(inst, inst.def->root);
  for (std::size_t i : inst.def->on_failure) {
    StepState& st = inst.steps[i];
    if (st.status != StepStatus::kPending)
      ++st.epoch;  // a new failure is a new event
    reset(inst, i);
  }
  std::erase_if(inst.completed,
                [&](std::size_t i) { return inst.steps[i].status == StepStatus::kPending; });
  inst.failure = nullptr;
  inst.stopping = false;
  inst.cancelled = false;
  inst.phase = Phase::kRunning;
}

/// A needs_attention workflow resumes its compensation. The stuck compensation is sent again
/// with the same key unless its last error was final.
void resume_compensation(Instance& inst) {
  for (std::size_t i : inst.completed) {
    StepState& st = inst.steps[i];
    if (st.comp != CompStatus::kFailed)
      continue;
    if (st.error && !st.error->retryable)
      ++st.comp_epoch;
    st.comp = CompStatus::kNone;
    st.comp_attempt = 0;
    st.in_flight = false;
    st.waiting = false;
  }
  inst.phase = Phase::kCompensating;
}

}  // namespace

Result<json> step_input(const Instance& inst, const Step& step) {
  if (auto it = inst.input_overrides.find(step.index); it != inst.input_overrides.end())
    return it->second;
  return step.input_template.render(InstanceScope(inst));
}

std::size_t StepState::count_children(StepStatus wanted) const {
  return static_cast<std::size_t>(std::count_if(
      children.begin(), children.end(), [&](const ChildRun& c) { return c.status == wanted; }));
}

std::string child_workflow_id(const Instance& inst, const Step& step, std::int64_t iteration) {
  std::string id = inst.id + ".";
  for (char c : step.path)
    id += c == '/' ? '.' : c;
  if (const int epoch = inst.steps[step.index].epoch; epoch > 0)
    id += "-r" + std::to_string(epoch);
  if (iteration >= 0)
    id += "." + std::to_string(iteration);
  return id;
}

const PendingSignal* Instance::pending_signal(const std::string& name) const {
  for (const PendingSignal& s : signals) {
    if (s.name == name)
      return &s;
  }
  return nullptr;
}

std::int64_t to_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string idempotency_key(const Instance& inst, const Step& step, bool compensation) {
  const StepState& st = inst.steps[step.index];
  std::string key;
  key.reserve(inst.id.size() + step.path.size() + 16);
  key += inst.id;
  key += ':';
  key += step.path;
  if (compensation)
    key += ":compensate";
  int epoch = compensation ? st.comp_epoch : st.epoch;
  if (epoch > 0) {
    key += '#';
    key += std::to_string(epoch);
  }
  return key;
}

const nlohmann::json* InstanceScope::resolve(std::span<const std::string> segments) const {
  const std::string& root = segments[0];
  if (root == "input")
    return walk(inst_.input, segments.subspan(1));
  if (root == "steps") {
    if (segments.size() < 3 || segments[2] != "output")
      return nullptr;
    const Step* step = inst_.def->find(segments[1]);
    if (!step)
      return nullptr;
    const StepState& st = inst_.steps[step->index];
    if (st.status != StepStatus::kSucceeded)
      return nullptr;
    return walk(st.output, segments.subspan(3));
  }
  if (root == "workflow") {
    if (segments.size() != 2)
      return nullptr;
    const std::string& field = segments[1];
    if (field == "id") {
      scratch_ = inst_.id;
    } else if (field == "definition") {
      scratch_ = inst_.def->name;
    } else if (field == "version") {
      scratch_ = inst_.def->version;
    } else if (field == "run") {
      scratch_ = inst_.run;
    } else {
      return nullptr;
    }
    return &scratch_;
  }
  if (root == "failure") {
    return inst_.failure.is_null() ? nullptr : walk(inst_.failure, segments.subspan(1));
  }
  if (inst_.def->map_body && root == "item")
    return walk(inst_.item, segments.subspan(1));
  if (inst_.def->map_body && root == "index" && segments.size() == 1) {
    scratch_ = inst_.index;
    return &scratch_;
  }
  return nullptr;
}

namespace {

bool is_step_record(const std::string& type) {
  return type == events::kStepStarted || type == events::kStepAttempt ||
         type == events::kStepAttemptFailed || type == events::kStepSucceeded ||
         type == events::kStepFailed || type == events::kCompensationStarted ||
         type == events::kCompensationAttempt || type == events::kCompensationAttemptFailed ||
         type == events::kCompensationSucceeded || type == events::kCompensationFailed ||
         type == events::kIterationStarted || type == events::kIterationSucceeded ||
         type == events::kIterationFailed || type == events::kIterationUndone;
}

/// The child run an iteration record (or a workflow step's record) is about; nullptr when the
/// record names none the step has.
ChildRun* child_of(StepState& st, const json& data) {
  const std::int64_t index = int_of(data, "index");
  if (index < 0 || static_cast<std::size_t>(index) >= st.children.size())
    return nullptr;
  return &st.children[static_cast<std::size_t>(index)];
}

/// A record about one child of a workflow or map step.
void apply_iteration_record(StepState& st, const std::string& type, const json& data) {
  ChildRun* child = child_of(st, data);
  if (!child)
    return;
  if (type == events::kIterationStarted) {
    child->id = data.value("child_id", std::string{});
    child->status = StepStatus::kRunning;
  } else if (type == events::kIterationSucceeded) {
    child->status = StepStatus::kSucceeded;
    child->output = data.value("output", json());
  } else if (type == events::kIterationFailed) {
    child->status = StepStatus::kFailed;
    child->error = error_of(data);
  } else {
    child->undone = true;
  }
}

/// A workflow or map step started: its child, or its items (each iteration starts later).
void apply_children_started(const Step& step, StepState& st, const json& data) {
  st.children.clear();
  st.started = data;
  if (step.kind == StepKind::kWorkflow) {
    st.children.push_back(
        ChildRun{data.value("child_id", std::string{}), StepStatus::kRunning, false, json(), {}});
    return;
  }
  st.items = data.value("items", json::array());
  st.children.resize(st.items.is_array() ? st.items.size() : 0);
}

/// A signal step ended: it took its signal, or it timed out and skipped to `on_timeout`.
void apply_signal_step_end(Instance& inst, const Step& step, const json& data) {
  const std::string taken = data.value("signal_id", std::string{});
  std::erase_if(inst.signals, [&](const PendingSignal& s) { return s.id == taken; });
  if (data.value("timed_out", false)) {
    for (std::size_t i : step.timeout_skips)
      inst.steps[i].status = StepStatus::kSkipped;
  }
}

void apply_step_failed(Instance& inst, const Step& step, StepState& st, const json& data) {
  st.status = StepStatus::kFailed;
  st.in_flight = false;
  st.waiting = false;
  st.error = error_of(data);
  inst.stopping = true;
  // A command that may have taken effect is undone like a completed one; so are the completed
  // iterations of a failed map step.
  if ((step.compensation && data.value("in_doubt", false)) ||
      (step.kind == StepKind::kMap && st.count_children(StepStatus::kSucceeded) > 0))
    inst.completed.push_back(step.index);
  if (inst.failure.is_null() && inst.phase == Phase::kRunning) {
    Error e = st.error.value_or(Error::of(codes::kInternal, "unknown error"));
    inst.failure = json{{"reason", data.value("reason", e.message)},
                        {"step", step.id},
                        {"code", to_string(e.code)},
                        {"message", e.message},
                        {"cancelled", false}};
  }
}

void apply_step_started(const Step& step, StepState& st, const JournalRecord& r,
                        std::int64_t at_ms) {
  st.status = StepStatus::kRunning;
  st.started_ms = at_ms;
  st.first_started_ms = at_ms;
  st.error.reset();
  if (step.runs_children()) {
    apply_children_started(step, st, r.data);
  } else if (step.kind == StepKind::kWait || step.kind == StepKind::kSignal) {
    // Waits like a retry's backoff, until the time recorded when it started.
    st.waiting = true;
    st.retry_at_ms =
        int_of(r.data, step.kind == StepKind::kWait ? "wait_until_ms" : "timeout_at_ms");
  } else if (step.is_leaf()) {
    st.attempt = r.attempt;
    st.in_flight = true;
    st.waiting = false;
  } else if (step.kind == StepKind::kChoice) {
    st.chosen = static_cast<int>(r.data.value("case", kDefaultCase));
  }
}

void apply_step_succeeded(Instance& inst, const Step& step, StepState& st, const json& data) {
  st.status = StepStatus::kSucceeded;
  st.in_flight = false;
  st.waiting = false;
  auto out = data.find("output");
  st.output = out != data.end() ? *out : json();
  if (step.kind == StepKind::kWorkflow && st.children.size() == 1) {
    st.children[0].status = StepStatus::kSucceeded;
    st.children[0].output = st.output;
  }
  // Compensable: a task with a compensation, a workflow or map step with a completed child.
  if (step.compensation || (step.runs_children() && st.count_children(StepStatus::kSucceeded)))
    inst.completed.push_back(step.index);
  if (step.kind == StepKind::kSignal)
    apply_signal_step_end(inst, step, data);
}

/// A record about one step (is_step_record).
void apply_step_record(Instance& inst, const Step& step, StepState& st, const JournalRecord& r,
                       std::int64_t at_ms) {
  const std::string& type = r.type;
  const json& data = r.data;
  if (type == events::kStepStarted) {
    apply_step_started(step, st, r, at_ms);
  } else if (type == events::kStepAttempt || type == events::kCompensationAttempt ||
             type == events::kCompensationStarted) {
    if (type == events::kCompensationStarted)
      st.comp = CompStatus::kRunning;
    (type == events::kStepAttempt ? st.attempt : st.comp_attempt) = r.attempt;
    st.in_flight = true;
    st.waiting = false;
    st.started_ms = at_ms;
  } else if (type == events::kStepAttemptFailed || type == events::kCompensationAttemptFailed) {
    st.in_flight = false;
    st.waiting = true;
    st.retry_at_ms = int_of(data, "retry_at_ms");
    st.error = error_of(data);
  } else if (type == events::kStepSucceeded) {
    apply_step_succeeded(inst, step, st, data);
  } else if (type == events::kIterationStarted || type == events::kIterationSucceeded ||
             type == events::kIterationFailed || type == events::kIterationUndone) {
    apply_iteration_record(st, type, data);
  } else if (type == events::kStepFailed) {
    apply_step_failed(inst, step, st, data);
  } else {  // compensation succeeded or failed
    const bool failed = type == events::kCompensationFailed;
    st.comp = failed ? CompStatus::kFailed : CompStatus::kDone;
    st.in_flight = false;
    st.waiting = false;
    if (failed)
      st.error = error_of(data);
  }
}

/// An operator's rerun from a top-level step (docs/workflows.md, "Rerun from a step"); false when
/// the record names no step of the definition.
bool apply_rerun(Instance& inst, const JournalRecord& r) {
  const Step* step = inst.def->find_path(r.step);
  if (!step)
    return false;
  restart(inst, step->index);
  inst.run = static_cast<int>(int_of(r.data, "run"));
  if (auto input = r.data.find("input"); input != r.data.end())
    inst.input_overrides[step->index] = *input;
  else
    inst.input_overrides.erase(step->index);
  inst.status = WorkflowStatus::kRunning;
  inst.paused = false;  // a rerun is a request to go on
  return true;
}

void apply_started(Instance& inst, const json& data) {
  inst.input = data.value("input", json::object());
  if (auto parent = data.find("parent"); parent != data.end() && parent->is_object()) {
    inst.parent_id = parent->value("workflow_id", std::string{});
    inst.parent_step = parent->value("step", std::string{});
  }
  inst.item = data.value("item", json());
  inst.index = data.contains("index") ? int_of(data, "index") : -1;
  inst.run = static_cast<int>(int_of(data, "run"));
  inst.status = WorkflowStatus::kRunning;
  inst.phase = Phase::kRunning;
  inst.steps.assign(inst.def->steps.size(), StepState{});
}

/// The workflow stops and compensates as cancelled, for `reason`.
void cancel(Instance& inst, const std::string& reason, const std::string& message) {
  inst.stopping = true;
  inst.cancelled = true;
  inst.failure = json{{"reason", reason},
                      {"step", ""},
                      {"code", codes::kCancelled},
                      {"message", message},
                      {"cancelled", true}};
}

/// A record about the whole workflow; false when the type is unknown.
bool apply_workflow_record(Instance& inst, const JournalRecord& r) {
  const std::string& type = r.type;
  const json& data = r.data;
  if (type == events::kStarted) {
    apply_started(inst, data);
  } else if (type == events::kCancelRequested) {
    std::string why = data.value("reason", std::string{});
    cancel(inst, why.empty() ? "cancelled" : "cancelled: " + why, why);
  } else if (type == events::kCompensating) {
    inst.phase = Phase::kCompensating;
    auto f = data.find("failure");
    if (f != data.end() && f->is_object())
      inst.failure = *f;
  } else if (type == events::kRetryRequested) {
    if (data.value("mode", std::string{}) == "compensation") {
      resume_compensation(inst);
    } else {
      restart(inst);
      inst.run = static_cast<int>(int_of(data, "run"));
    }
    inst.status = WorkflowStatus::kRunning;
    inst.paused = false;  // a retry is a request to go on
  } else if (type == events::kRerunRequested) {
    return apply_rerun(inst, r);
  } else if (type == events::kUndoRequested) {
    // A completed child whose parent is undone: its compensations run, then it ends cancelled.
    const std::string why = data.value("reason", std::string("undone"));
    cancel(inst, why, why);
    inst.phase = Phase::kCompensating;
    inst.status = WorkflowStatus::kRunning;
  } else if (type == events::kPauseRequested) {
    inst.paused = true;
  } else if (type == events::kResumeRequested) {
    inst.paused = false;
  } else if (type == events::kSignalReceived) {
    std::string id = data.value("signal_id", std::string{});
    if (inst.signal_ids.insert(id).second) {
      inst.signals.push_back(
          {data.value("signal", std::string{}), std::move(id), data.value("payload", json())});
    }
  } else if (type == events::kResumed) {
    // Informational: the engine restarted and resumed the workflow.
  } else if (type == events::kCompleted || type == events::kFailed || type == events::kCancelled ||
             type == events::kNeedsAttention) {
    inst.phase = Phase::kFinished;
  } else {
    return false;
  }
  return true;
}

}  // namespace

Status apply(Instance& inst, const JournalRecord& r, std::int64_t at_ms) {
  const Step* step = nullptr;
  if (!r.step.empty()) {
    step = inst.def->find_path(r.step);
    if (!step) {
      return Error::of(codes::kInternal, "journal names step '" + r.step + "' that " +
                                             inst.def->name + " v" +
                                             std::to_string(inst.def->version) + " lacks");
    }
  }
  if (is_step_record(r.type)) {
    if (!step)
      return Error::of(codes::kInternal, "journal record " + r.type + " without a step");
    apply_step_record(inst, *step, inst.steps[step->index], r, at_ms);
  } else if (!apply_workflow_record(inst, r)) {
    return Error::of(codes::kInternal, "unknown journal record type " + r.type);
  }
  if (r.status)
    inst.status = *r.status;
  inst.seq = r.seq;
  return ok_status();
}

}  // namespace wonderland::workflow::detail
