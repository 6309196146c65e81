#include "decisions.hpp"

#include <algorithm>

namespace wonderland::workflow::detail {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::string failure_reason(const Step& step, const Error& e, int attempts) {
  std::string r = describe_step(step) + " failed";
  if (attempts > 1)
    r += " after " + std::to_string(attempts) + " attempts";
  return r + ": " + std::string(to_string(e.code)) + ": " + e.message;
}

/// Whether a command that ended with `err` may still have taken effect: no answer in time
/// (`deadline_exceeded`) or the connection lost on the way (`unavailable`). Such a step is
/// compensated too, since compensations tolerate "nothing to undo"; a refusal is not.
bool in_doubt(const Error& err) {
  return err.code == codes::kDeadlineExceeded || err.code == codes::kUnavailable;
}

/// The case of a choice step that `value` selects; kDefaultCase when none does.
int choose_case(const Step& step, const json& value) {
  for (std::size_t i = 0; i < step.cases.size(); ++i) {
    if (step.cases[i].matches(value))
      return static_cast<int>(i);
  }
  return kDefaultCase;
}

}  // namespace

namespace {

/// What a leaf step does, in a few words; empty for composites.
std::string step_what(const Step& step) {
  switch (step.kind) {
    case StepKind::kPublish:
      return "publish " + step.topic;
    case StepKind::kTask:
      return step.action;
    case StepKind::kWait:
      return "wait";
    case StepKind::kSignal:
      return "signal " + step.signal;
    case StepKind::kWorkflow:
      return "workflow " + step.definition;
    case StepKind::kMap:
      return "map";
    case StepKind::kParallel:
    case StepKind::kChoice:
      break;
  }
  return {};
}

}  // namespace

std::string describe_step(const Step& step) {
  std::string what = step_what(step);
  return "step '" + step.id + "'" + (what.empty() ? "" : " (" + what + ")");
}

void Decider::advance(Instance& inst) {
  for (;;) {
    switch (inst.phase) {
      case Phase::kFinished:
        return;
      case Phase::kRunning: {
        if (inst.stopping)
          stop_waiting_steps(inst);
        Flow f = run_sequence(inst, inst.def->root, true);
        if (f == Flow::kRunning)
          return;
        if (f == Flow::kDone) {
          complete(inst);
        } else if (inst.decided()) {
          stop_after_pivot(inst);
        } else {
          unwritten_.record(
              inst, events::kCompensating, nullptr, 0,
              json{{"reason", inst.failure.value("reason", "")}, {"failure", inst.failure}});
        }
        continue;
      }
      case Phase::kCompensating: {
        if (!run_compensations(inst))
          return;
        if (run_sequence(inst, inst.def->on_failure, false) == Flow::kRunning)
          return;
        finish_failed(inst);
        return;
      }
    }
  }
}

/// Runs a sequence: starts its first pending step when allowed. `forward` is false for the
/// failure handlers, which run after compensation and do not stop at a failed step.
Decider::Flow Decider::run_sequence(Instance& inst, const std::vector<std::size_t>& seq,
                                    bool forward) {
  for (std::size_t index : seq) {
    const Step& step = inst.def->steps[index];
    StepState& st = inst.steps[index];
    if (st.status == StepStatus::kPending) {
      if (forward && inst.stopping)
        return Flow::kBlocked;
      if (forward && inst.paused)
        return Flow::kRunning;  // held until resumed; what is in flight goes on
      start_step(inst, step);
    }
    if (step.kind == StepKind::kMap)
      map_progress(inst, step);
    if (st.status == StepStatus::kSucceeded || st.status == StepStatus::kSkipped)
      continue;
    if (st.status == StepStatus::kFailed) {
      if (forward)
        return Flow::kFailed;
      continue;
    }
    if (step.is_leaf())
      return Flow::kRunning;
    Flow f = run_composite(inst, step, forward);
    if (f == Flow::kDone) {
      json output =
          step.kind == StepKind::kChoice ? JsonObject().add("case", st.chosen).done() : json();
      unwritten_.record(
          inst, events::kStepSucceeded, &step, 0,
          JsonObject().add("output", std::move(output)).add("duration_ms", elapsed(st)).done());
      continue;
    }
    if (f == Flow::kFailed) {
      const std::string code = inst.failure.value("code", std::string{});
      Error e = Error::of(parse_code(code).value_or(codes::kInternal),
                          inst.failure.value("message", std::string{}));
      unwritten_.record(
          inst, events::kStepFailed, &step, 0,
          json{{"error", e.to_json()},
               {"duration_ms", elapsed(st)},
               {"reason", describe_step(step) + " failed: " + inst.failure.value("reason", "")}});
    }
    return f;
  }
  return Flow::kDone;
}

Decider::Flow Decider::run_composite(Instance& inst, const Step& step, bool forward) {
  if (step.kind == StepKind::kParallel) {
    bool running = false;
    bool failed = false;
    bool blocked = false;
    for (const auto& branch : step.branches) {
      Flow f = run_sequence(inst, branch, forward);
      running = running || f == Flow::kRunning;
      failed = failed || f == Flow::kFailed;
      blocked = blocked || f == Flow::kBlocked;
    }
    if (running)
      return Flow::kRunning;
    if (failed)
      return Flow::kFailed;
    return blocked ? Flow::kBlocked : Flow::kDone;
  }
  int chosen = inst.steps[step.index].chosen;
  const auto& seq =
      chosen >= 0 ? step.cases[static_cast<std::size_t>(chosen)].steps : step.default_steps;
  return run_sequence(inst, seq, forward);
}

void Decider::start_step(Instance& inst, const Step& step) {
  switch (step.kind) {
    case StepKind::kTask:
    case StepKind::kPublish:
      start_attempt(inst, step, 1);
      return;
    case StepKind::kWait:
      start_wait(inst, step);
      return;
    case StepKind::kSignal:
      start_signal(inst, step);
      return;
    case StepKind::kWorkflow:
      start_child(inst, step);
      return;
    case StepKind::kMap:
      start_map(inst, step);
      return;
    case StepKind::kParallel:
      unwritten_.record(inst, events::kStepStarted, &step, 0,
                        json{{"branches", step.branches.size()}});
      return;
    case StepKind::kChoice: {
      InstanceScope scope(inst);
      const json* found = scope.resolve(step.on_path);
      json value = found ? *found : json();
      int chosen = choose_case(step, value);
      unwritten_.record(inst, events::kStepStarted, &step, 0,
                        json{{"case", chosen}, {"value", std::move(value)}});
      return;
    }
  }
}

/// Records and sends attempt `attempt` of a task or publish step.
void Decider::start_attempt(Instance& inst, const Step& step, int attempt) {
  auto input = step_input(inst, step);
  if (!input) {
    fail_at_start(inst, step, attempt,
                  Error::of(codes::kInvalidArgument, "input: " + input.error().message));
    return;
  }
  std::string key = idempotency_key(inst, step, false);
  JsonObject data;
  data.add("idempotency_key", key).add("timeout_ms", step.timeout.count());
  if (step.kind == StepKind::kTask) {
    data.add("service", step.service).add("action", step.action).add("request", *input);
  } else {
    data.add("topic", step.topic).add("payload", *input);
  }
  unwritten_.record(inst, attempt == 1 ? events::kStepStarted : events::kStepAttempt, &step,
                    attempt, data.done());
  emit(inst, step, std::move(*input), std::move(key), false);
}

void Decider::fail_at_start(Instance& inst, const Step& step, int attempt, const Error& e) {
  unwritten_.record(
      inst, events::kStepFailed, &step, attempt,
      json{{"error", e.to_json()}, {"duration_ms", 0}, {"reason", failure_reason(step, e, 1)}});
}

/// Computes when a wait step ends, once, and records it; a timer ends the step then (also
/// after a restart: Recovery schedules it for the recorded time).
void Decider::start_wait(Instance& inst, const Step& step) {
  const std::int64_t now = to_ms(clock_.now());
  auto value = step.wait_template.render(InstanceScope(inst));
  Result<std::int64_t> until =
      value ? wait_deadline_ms(step.wait_until, *value, now)
            : Result<std::int64_t>(Error::of(
                  codes::kInvalidArgument, std::string(step.wait_until ? "until" : "duration_ms") +
                                               ": " + value.error().message));
  if (!until) {
    fail_at_start(inst, step, 0, until.error());
    return;
  }
  const SystemTime at{std::chrono::milliseconds(*until)};
  unwritten_.record(inst, events::kStepStarted, &step, 0,
                    json{{"wait_until", format_iso8601(at)}, {"wait_until_ms", *until}});
  StepState& st = inst.steps[step.index];
  st.token = inst.next_token++;
  unwritten_.add_effect(TimerEffect{inst.id, step.index, st.token,
                                    milliseconds(std::max<std::int64_t>(0, *until - now))});
}

void Decider::finish_wait(Instance& inst, const Step& step) {
  const StepState& st = inst.steps[step.index];
  const SystemTime at{milliseconds(st.retry_at_ms)};
  unwritten_.record(inst, events::kStepSucceeded, &step, 0,
                    JsonObject()
                        .add("output", json{{"waited_until", format_iso8601(at)}})
                        .add("duration_ms", elapsed(st))
                        .done());
}

void Decider::next_attempt(Instance& inst, std::size_t index) {
  const Step& step = inst.def->steps[index];
  StepState& st = inst.steps[index];
  if (step.kind == StepKind::kWait) {
    finish_wait(inst, step);
  } else if (step.kind == StepKind::kSignal) {
    signal_timed_out(inst, step);
  } else if (st.comp == CompStatus::kRunning) {
    start_compensation_attempt(inst, step, st.comp_attempt + 1);
  } else {
    start_attempt(inst, step, st.attempt + 1);
  }
}

void Decider::emit(Instance& inst, const Step& step, json input, std::string key,
                   bool compensation) {
  StepState& st = inst.steps[step.index];
  st.token = inst.next_token++;
  if (step.kind == StepKind::kPublish) {
    unwritten_.add_effect(PublishEffect{
        inst.id, step.index, st.token, step.timeout,
        Publication{inst.id, step.path, st.attempt, step.topic, std::move(input), std::move(key)}});
    return;
  }
  Command cmd;
  cmd.workflow_id = inst.id;
  cmd.step_path = step.path;
  cmd.input = std::move(input);
  cmd.idempotency_key = std::move(key);
  cmd.compensation = compensation;
  if (compensation) {
    cmd.attempt = st.comp_attempt;
    cmd.service = step.compensation->service;
    cmd.action = step.compensation->action;
    cmd.timeout = step.compensation->timeout;
  } else {
    cmd.attempt = st.attempt;
    cmd.service = step.service;
    cmd.action = step.action;
    cmd.timeout = step.timeout;
  }
  unwritten_.add_effect(SendEffect{inst.id, step.index, st.token, std::move(cmd)});
}

void Decider::handle_outcome(Instance& inst, std::size_t index, Result<json> outcome) {
  const Step& step = inst.def->steps[index];
  StepState& st = inst.steps[index];
  const bool compensation = st.comp == CompStatus::kRunning;
  const std::int64_t now = to_ms(clock_.now());
  const std::int64_t duration = std::max<std::int64_t>(0, now - st.started_ms);
  if (step.kind == StepKind::kTask) {
    metrics_.sample(compensation ? step.compensation->service : step.service,
                    compensation ? step.compensation->action : step.action, duration, outcome.ok());
  }
  const int attempt = compensation ? st.comp_attempt : st.attempt;
  if (outcome.ok()) {
    unwritten_.record(
        inst, compensation ? events::kCompensationSucceeded : events::kStepSucceeded, &step,
        attempt,
        JsonObject().add("output", std::move(outcome.value())).add("duration_ms", duration).done());
    return;
  }
  const Error& err = outcome.error();
  const RetryPolicy& policy = compensation ? compensation_retry_ : step.retry;
  // After the pivot a step is retried for as long as its error is one to retry: giving up would
  // leave the workflow needing attention, since nothing before it may be undone any more.
  const bool within_budget =
      (!compensation && inst.decided()) || attempt < policy.max_attempts ||
      (!compensation && policy.transient_for.count() > 0 && RetryPolicy::is_transient(err) &&
       now - st.first_started_ms < policy.transient_for.count());
  const bool retry =
      within_budget && (compensation || (!inst.stopping && policy.should_retry(err)));
  if (retry) {
    record_retry(inst, index, err, attempt, {now, duration}, compensation);
    return;
  }
  if (compensation) {
    compensation_failed(inst, step, attempt, err, duration);
    return;
  }
  unwritten_.record(inst, events::kStepFailed, &step, attempt,
                    json{{"error", err.to_json()},
                         {"duration_ms", duration},
                         {"reason", failure_reason(step, err, attempt)},
                         {"in_doubt", in_doubt(err)}});
}

/// Records the failed attempt and starts the backoff before the next one.
void Decider::record_retry(Instance& inst, std::size_t index, const Error& err, int attempt,
                           AttemptTime time, bool compensation) {
  const Step& step = inst.def->steps[index];
  const RetryPolicy& policy = compensation ? compensation_retry_ : step.retry;
  const auto [now, duration] = time;
  milliseconds delay = jittered(policy.backoff(attempt), policy.jitter);
  unwritten_.record(inst,
                    compensation ? events::kCompensationAttemptFailed : events::kStepAttemptFailed,
                    &step, attempt,
                    JsonObject()
                        .add("error", err.to_json())
                        .add("duration_ms", duration)
                        .add("retry_in_ms", delay.count())
                        .add("retry_at_ms", now + delay.count())
                        .done());
  StepState& st = inst.steps[index];
  st.token = inst.next_token++;
  unwritten_.add_effect(TimerEffect{inst.id, index, st.token, delay});
}

/// Once a step failed or a cancel came, steps waiting to retry give up, and the children of
/// workflow and map steps are cancelled.
void Decider::stop_waiting_steps(Instance& inst) {
  for (std::size_t i = 0; i < inst.steps.size(); ++i) {
    StepState& st = inst.steps[i];
    if (inst.def->steps[i].runs_children()) {
      cancel_children(inst, inst.def->steps[i]);
      continue;
    }
    if (!st.waiting || st.status != StepStatus::kRunning || st.comp != CompStatus::kNone) {
      continue;
    }
    if (st.timer)
      clock_.cancel(st.timer);
    st.timer = 0;
    const Step& step = inst.def->steps[i];
    Error last = st.error.value_or(Error::of(codes::kCancelled, "stopped"));
    std::string why = inst.cancelled ? "the workflow was cancelled" : "another step failed";
    const bool waits = step.kind == StepKind::kWait || step.kind == StepKind::kSignal;
    const char* what = waits ? " stopped waiting: " : " stopped retrying: ";
    unwritten_.record(inst, events::kStepFailed, &step, st.attempt,
                      json{{"error", last.to_json()},
                           {"duration_ms", elapsed(st)},
                           {"reason", describe_step(step) + what + why},
                           {"in_doubt", st.attempt > 0 && in_doubt(last)}});
  }
}

void Decider::complete(Instance& inst) {
  json output;
  if (inst.def->output_template) {
    auto rendered = inst.def->output_template->render(InstanceScope(inst));
    if (!rendered) {
      json failure = {{"reason", "workflow output: " + rendered.error().message},
                      {"step", ""},
                      {"code", codes::kInvalidArgument},
                      {"message", rendered.error().message},
                      {"cancelled", false}};
      unwritten_.record(inst, events::kCompensating, nullptr, 0,
                        json{{"reason", failure["reason"]}, {"failure", failure}});
      return;
    }
    output = std::move(*rendered);
  }
  unwritten_.record(inst, events::kCompleted, nullptr, 0,
                    JsonObject().add("output", std::move(output)).done(),
                    WorkflowStatus::kCompleted);
}

/// A step after the pivot failed for good: what the workflow did stands, so nothing is undone
/// and no failure handler runs; the workflow waits for an operator's retry (which runs the
/// failed steps again) or rerun.
void Decider::stop_after_pivot(Instance& inst) {
  const std::string& pivot = inst.def->pivot_step()->id;
  unwritten_.record(inst, events::kNeedsAttention, nullptr, 0,
                    json{{"reason", inst.failure.value("reason", "a step failed") +
                                        " (after the pivot '" + pivot +
                                        "' succeeded: nothing is undone; retry once the cause "
                                        "is fixed)"},
                         {"pivot", pivot},
                         {"failure", inst.failure}},
                    WorkflowStatus::kNeedsAttention);
}

std::int64_t Decider::elapsed(const StepState& st) const {
  return std::max<std::int64_t>(0, to_ms(clock_.now()) - st.started_ms);
}

milliseconds Decider::jittered(milliseconds base, double jitter) {
  if (jitter <= 0 || base.count() == 0)
    return base;
  std::uniform_real_distribution<double> dist(1.0 - jitter, 1.0 + jitter);
  return milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * dist(rng_)));
}

}  // namespace wonderland::workflow::detail
