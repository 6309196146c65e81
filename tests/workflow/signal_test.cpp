// Signal steps: a workflow waits for a named signal, whose payload becomes the step's output.
// Signals are journaled when they arrive (also before the step waits), deduplicated by id,
// and a timeout fails the step or jumps to `on_timeout`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

json signal_step(const std::string& id, json extra = json::object()) {
  json s = {{"id", id}, {"kind", "signal"}, {"signal", "parcel_received"}, {"timeout_ms", 60000}};
  s.update(extra);
  return s;
}

json task_using(const std::string& id, const std::string& action, const std::string& from) {
  json t = task(id, action, true);
  t["input"] = {{"parcel", "${steps." + from + ".output.parcel?}"}};
  return t;
}

/// a (compensable), the signal step `s`, b (uses the signal's payload), late.
json signal_workflow(json s) {
  return workflow("parcel", json::array({task("a", "svc.a", true), std::move(s),
                                         task_using("b", "svc.b", "s"), task("late", "svc.late")}));
}

std::string definition_error(const json& doc) {
  auto def = parse_definition(doc, "parcel.json");
  return def ? std::string("accepted") : def.error().message;
}

TEST(SignalDefinition, FieldsAreChecked) {
  json no_name = signal_step("s");
  no_name.erase("signal");
  EXPECT_EQ(definition_error(signal_workflow(no_name)),
            "parcel.json: step 's': field 'signal': is required");
  EXPECT_EQ(definition_error(signal_workflow(signal_step("s", {{"signal", "Bad Name"}}))),
            "parcel.json: step 's': field 'signal': must be lower-case letters, digits, '_', '-' "
            "or '.'");
  json no_timeout = signal_step("s");
  no_timeout.erase("timeout_ms");
  EXPECT_EQ(definition_error(signal_workflow(no_timeout)),
            "parcel.json: step 's': field 'timeout_ms': is required");
  EXPECT_EQ(definition_error(signal_workflow(signal_step("s", {{"timeout_ms", 0}}))),
            "parcel.json: step 's': field 'timeout_ms': must be an integer between 1 and "
            "31622400000 (366 days) or a template such as '${input.timeout_ms}'");
  EXPECT_EQ(definition_error(signal_workflow(signal_step("s", {{"timeout_ms", "${nope.x}"}}))),
            "parcel.json: step 's': field 'timeout_ms': '${nope.x}': must start with input, "
            "workflow, steps or failure");
  EXPECT_EQ(definition_error(signal_workflow(signal_step("s", {{"on_timeout", "nope"}}))),
            "parcel.json: step 's': field 'on_timeout': 'nope' is not a later step of the same "
            "sequence");
  EXPECT_EQ(definition_error(signal_workflow(signal_step("s", {{"on_timeout", "a"}}))),
            "parcel.json: step 's': field 'on_timeout': 'a' is not a later step of the same "
            "sequence");
  EXPECT_EQ(definition_error(signal_workflow(signal_step("s", {{"retry", json::object()}}))),
            "parcel.json: step 's': field 'retry': unknown field");
  EXPECT_EQ(definition_error(signal_workflow(signal_step("s", {{"on_timeout", "late"}}))),
            "accepted");
}

struct SignalHarness : Harness {
  Parked parked;
  explicit SignalHarness(json s) {
    define(signal_workflow(std::move(s)));
    transport.on_async("svc.a", parked.handler(&calls));
    for (const char* action : {"svc.b", "svc.late", "undo.a", "undo.b"})
      serve_ok(action);
  }
  Status signal(const std::string& id, json payload, std::string signal_id = {},
                const std::string& name = "parcel_received") {
    return engine->signal(SignalRequest{.workflow_id = id,
                                        .name = name,
                                        .signal_id = std::move(signal_id),
                                        .payload = std::move(payload)});
  }
  /// Starts a workflow and lets `a` succeed; returns once `s` waits.
  std::string start_waiting() {
    std::string id = start("parcel");
    parked.wait_for(1);
    parked.reply("a", json::object());
    log.wait(id, events::kStepStarted, "s");
    return id;
  }
};

TEST(Signal, DeliveredWhileWaitingBecomesTheOutput) {
  SignalHarness h(signal_step("s"));
  h.boot();
  std::string id = h.start_waiting();
  JournalRecord started = h.log.wait(id, events::kStepStarted, "s");
  EXPECT_EQ(started.data["signal"], "parcel_received");
  EXPECT_EQ(started.data["timeout_at"], "2026-01-01T00:01:00.000Z");
  ASSERT_TRUE(h.signal(id, {{"parcel", "P-1"}}, "3f1c5d3e-8d1f-4a8e-9d55-0d3d0c5b7a11").ok());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  JournalRecord done = h.log.wait(id, events::kStepSucceeded, "s");
  EXPECT_EQ(done.data["output"], (json{{"parcel", "P-1"}}));
  EXPECT_EQ(done.data["signal_id"], "3f1c5d3e-8d1f-4a8e-9d55-0d3d0c5b7a11");
  JournalRecord received = h.log.wait(id, events::kSignalReceived);
  EXPECT_EQ(received.data["signal"], "parcel_received");
  auto b = h.calls.all();
  ASSERT_EQ(h.calls.count("svc.b"), 1);
  EXPECT_EQ(b[1].input["parcel"], "P-1");
  EXPECT_EQ(h.clock.pending(), 0u);  // the timeout is gone
}

TEST(Signal, ASignalThatArrivesEarlyIsKeptForTheStep) {
  SignalHarness h(signal_step("s"));
  h.boot();
  std::string id = h.start("parcel");
  h.parked.wait_for(1);
  ASSERT_TRUE(h.signal(id, {{"parcel", "early"}}).ok());
  h.log.wait(id, events::kSignalReceived);
  EXPECT_EQ(h.log.count(id, events::kStepStarted, "s"), 0);
  h.parked.reply("a", json::object());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.log.wait(id, events::kStepSucceeded, "s").data["output"]["parcel"], "early");
}

TEST(Signal, ADuplicateIsIgnored) {
  SignalHarness h(signal_step("s"));
  h.boot();
  std::string id = h.start("parcel");
  h.parked.wait_for(1);
  const std::string sid = "0b0e7c1a-4f5e-4b8a-8a43-1d2b3c4d5e6f";
  ASSERT_TRUE(h.signal(id, {{"parcel", "first"}}, sid).ok());
  ASSERT_TRUE(h.signal(id, {{"parcel", "second"}}, sid).ok());
  h.parked.reply("a", json::object());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.log.count(id, events::kSignalReceived), 1);
  EXPECT_EQ(h.log.wait(id, events::kStepSucceeded, "s").data["output"]["parcel"], "first");
  // After the workflow ended, a resend of the same signal is acknowledged again (at-least-once
  // senders resend freely), also once the engine no longer holds the workflow; a new signal is
  // refused as for any ended workflow.
  EXPECT_TRUE(h.signal(id, {{"parcel", "first"}}, sid).ok());
  Status fresh = h.signal(id, {{"parcel", "new"}}, "5d0e7c1a-4f5e-4b8a-8a43-1d2b3c4d5e6f");
  ASSERT_FALSE(fresh.ok());
  EXPECT_EQ(fresh.error().code, codes::kConflict);
  h.stop();
  h.boot();
  EXPECT_TRUE(h.signal(id, {{"parcel", "first"}}, sid).ok());
  Status unnamed = h.signal(id, {{"parcel", "first"}});
  ASSERT_FALSE(unnamed.ok());
  EXPECT_EQ(unnamed.error().code, codes::kConflict);
  EXPECT_EQ(h.log.count(id, events::kSignalReceived), 1);
}

TEST(Signal, ATimeoutWithoutOnTimeoutFailsTheStep) {
  SignalHarness h(signal_step("s"));
  h.boot();
  std::string id = h.start_waiting();
  h.clock.advance(milliseconds(59'999));
  h.sync();
  EXPECT_EQ(h.log.count(id, events::kStepFailed, "s"), 0);
  h.clock.advance(milliseconds(1));
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(end.data["reason"],
            "step 's' (signal parcel_received) failed: deadline_exceeded: no signal "
            "'parcel_received' within 60000 ms");
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "undo.a"));
}

TEST(Signal, ATimeoutWithOnTimeoutJumpsThere) {
  SignalHarness h(signal_step("s", {{"on_timeout", "late"}}));
  h.boot();
  std::string id = h.start_waiting();
  h.clock.advance(milliseconds(60'000));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  JournalRecord done = h.log.wait(id, events::kStepSucceeded, "s");
  EXPECT_EQ(done.data["output"], (json{{"timed_out", true}}));
  EXPECT_EQ(done.data["skipped"], json::array({"b"}));
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.late"));
}

TEST(Signal, ATemplatedTimeoutIsRenderedWhenTheStepStartsAndKeptAcrossARestart) {
  SignalHarness h(signal_step("s", {{"timeout_ms", "${input.parcel_timeout_ms}"}}));
  h.boot();
  std::string id = h.start("parcel", {{"parcel_timeout_ms", 5000}});
  h.parked.wait_for(1);
  h.parked.reply("a", json::object());
  JournalRecord started = h.log.wait(id, events::kStepStarted, "s");
  EXPECT_EQ(started.data["timeout_ms"], 5000);
  EXPECT_EQ(started.data["timeout_at"], "2026-01-01T00:00:05.000Z");
  h.clock.advance(milliseconds(2'000));
  h.stop();
  h.boot();
  h.log.wait(id, events::kResumed);
  EXPECT_EQ(h.clock.next_due(), milliseconds(3'000));
  h.clock.advance(milliseconds(3'000));
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(end.data["reason"],
            "step 's' (signal parcel_received) failed: deadline_exceeded: no signal "
            "'parcel_received' within 5000 ms");
}

TEST(Signal, ATemplatedTimeoutThatIsNotAnIntegerFailsTheStepForGood) {
  SignalHarness h(signal_step("s", {{"timeout_ms", "${input.parcel_timeout_ms}"}}));
  h.boot();
  std::string id = h.start("parcel", {{"parcel_timeout_ms", "two weeks"}});
  h.parked.wait_for(1);
  h.parked.reply("a", json::object());
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_THAT(end.data["reason"].get<std::string>(),
              HasSubstr("invalid_argument: timeout_ms: \"two weeks\" is not an integer between 1 "
                        "and 31622400000 (366 days)"));
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "undo.a"));
}

TEST(Signal, ARestartWhileWaitingKeepsTheTimeoutAndTakesTheSignal) {
  SignalHarness h(signal_step("s"));
  h.boot();
  std::string id = h.start_waiting();
  h.clock.advance(milliseconds(20'000));
  h.stop();
  h.boot();
  h.log.wait(id, events::kResumed);
  EXPECT_EQ(h.clock.next_due(), milliseconds(40'000));
  ASSERT_TRUE(h.signal(id, {{"parcel", "after restart"}}).ok());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.log.wait(id, events::kStepSucceeded, "s").data["output"]["parcel"], "after restart");
  EXPECT_EQ(h.log.count(id, events::kStepStarted, "s"), 1);
}

TEST(Signal, AnEarlySignalSurvivesARestart) {
  SignalHarness h(signal_step("s"));
  h.boot();
  std::string id = h.start("parcel");
  h.parked.wait_for(1);
  ASSERT_TRUE(h.signal(id, {{"parcel", "kept"}}).ok());
  h.parked.take_all();
  h.stop();
  h.serve_ok("svc.a");
  h.boot();
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.log.wait(id, events::kStepSucceeded, "s").data["output"]["parcel"], "kept");
}

TEST(Signal, RequestsThatCannotBeRecordedAreRefused) {
  SignalHarness h(signal_step("s"));
  h.boot();
  EXPECT_EQ(h.signal("nobody", json::object()).error().code, codes::kNotFound);
  std::string id = h.start_waiting();
  Status unknown = h.signal(id, json::object(), "", "other_signal");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, codes::kInvalidArgument);
  EXPECT_THAT(unknown.error().message, HasSubstr("waits for no signal 'other_signal'"));
  Status not_object = h.signal(id, json::array());
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.error().code, codes::kInvalidArgument);
  ASSERT_TRUE(h.engine->cancel(id, "").ok());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCancelled);
  EXPECT_THAT(h.log.wait(id, events::kStepFailed, "s").data["reason"].get<std::string>(),
              HasSubstr("stopped waiting"));
  EXPECT_EQ(h.signal(id, json::object()).error().code, codes::kConflict);
}

}  // namespace
}  // namespace wonderland::workflow
