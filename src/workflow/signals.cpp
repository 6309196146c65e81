// The signal steps of the Decider: a signal step takes the oldest pending signal of its name
// when it starts, or waits for one (deliver_signal) until its timeout, recorded when it started;
// then it fails, or skips to its `on_timeout` step.
#include "decisions.hpp"

namespace wonderland::workflow::detail {

using nlohmann::json;
using std::chrono::milliseconds;

void Decider::start_signal(Instance& inst, const Step& step) {
  const std::int64_t now = to_ms(clock_.now());
  auto value = step.wait_template.render(InstanceScope(inst));
  Result<std::int64_t> timeout =
      value ? signal_timeout_ms(*value)
            : Result<std::int64_t>(
                  Error::of(codes::kInvalidArgument, "timeout_ms: " + value.error().message));
  if (!timeout) {
    fail_at_start(inst, step, 0, timeout.error());
    return;
  }
  const std::int64_t at = now + *timeout;
  unwritten_.record(inst, events::kStepStarted, &step, 0,
                    json{{"signal", step.signal},
                         {"timeout_ms", *timeout},
                         {"timeout_at", format_iso8601(SystemTime{milliseconds(at)})},
                         {"timeout_at_ms", at}});
  if (const PendingSignal* early = inst.pending_signal(step.signal)) {
    PendingSignal taken = *early;  // taking it removes it from inst.signals
    take_signal(inst, step, taken);
    return;
  }
  StepState& st = inst.steps[step.index];
  st.token = inst.next_token++;
  unwritten_.add_effect(TimerEffect{inst.id, step.index, st.token, milliseconds(*timeout)});
}

void Decider::deliver_signal(Instance& inst, const std::string& name) {
  const PendingSignal* pending = inst.pending_signal(name);
  if (!pending)
    return;
  for (std::size_t i = 0; i < inst.steps.size(); ++i) {
    const Step& step = inst.def->steps[i];
    const StepState& st = inst.steps[i];
    if (step.kind == StepKind::kSignal && step.signal == name &&
        st.status == StepStatus::kRunning && st.waiting && st.comp == CompStatus::kNone) {
      PendingSignal taken = *pending;
      take_signal(inst, step, taken);
      return;
    }
  }
}

void Decider::take_signal(Instance& inst, const Step& step, const PendingSignal& signal) {
  StepState& st = inst.steps[step.index];
  if (st.timer)
    clock_.cancel(st.timer);
  st.timer = 0;
  unwritten_.record(inst, events::kStepSucceeded, &step, 0,
                    JsonObject()
                        .add("output", signal.payload)
                        .add("signal_id", signal.id)
                        .add("duration_ms", elapsed(st))
                        .done());
}

void Decider::signal_timed_out(Instance& inst, const Step& step) {
  const StepState& st = inst.steps[step.index];
  if (!step.on_timeout.empty()) {
    json skipped = json::array();
    for (std::size_t i : step.timeout_skips)
      skipped.push_back(inst.def->steps[i].id);
    unwritten_.record(inst, events::kStepSucceeded, &step, 0,
                      JsonObject()
                          .add("output", json{{"timed_out", true}})
                          .add("timed_out", true)
                          .add("skipped", std::move(skipped))
                          .add("duration_ms", elapsed(st))
                          .done());
    return;
  }
  // A templated timeout was rendered when the step started: its end minus its start.
  const std::int64_t timeout_ms = step.wait.is_number_integer() ? step.wait.get<std::int64_t>()
                                                                : st.retry_at_ms - st.started_ms;
  Error e = Error::of(codes::kDeadlineExceeded, "no signal '" + step.signal + "' within " +
                                                    std::to_string(timeout_ms) + " ms");
  std::string reason = "step '" + step.id + "' (signal " + step.signal +
                       ") failed: " + std::string(to_string(e.code)) + ": " + e.message;
  unwritten_.record(inst, events::kStepFailed, &step, 0,
                    json{{"error", e.to_json()},
                         {"duration_ms", elapsed(st)},
                         {"reason", std::move(reason)},
                         {"in_doubt", false}});
}

}  // namespace wonderland::workflow::detail
