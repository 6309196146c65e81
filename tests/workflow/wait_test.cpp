// Wait steps: a duration or a time from the input, validated at load, recorded once when the
// step starts, kept across restarts, and stopped by a cancel.
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

json wait_step(const std::string& id, const char* field, json value) {
  return json{{"id", id}, {"kind", "wait"}, {field, std::move(value)}};
}

/// a (compensable), a wait, then b (compensable).
json waiting_workflow(json wait) {
  return workflow(
      "later", json::array({task("a", "svc.a", true), std::move(wait), task("b", "svc.b", true)}));
}

std::string definition_error(const json& doc) {
  auto def = parse_definition(doc, "later.json");
  return def ? std::string("accepted") : def.error().message;
}

TEST(WaitDefinition, ExactlyOneOfDurationAndUntil) {
  json both = wait_step("pause", "duration_ms", 10);
  both["until"] = "${input.at}";
  EXPECT_EQ(definition_error(waiting_workflow(both)),
            "later.json: step 'pause': field 'duration_ms': a wait step needs exactly one of "
            "duration_ms and until");
  json neither = {{"id", "pause"}, {"kind", "wait"}};
  EXPECT_EQ(definition_error(waiting_workflow(neither)),
            "later.json: step 'pause': field 'duration_ms': a wait step needs exactly one of "
            "duration_ms and until");
  json extra = wait_step("pause", "duration_ms", 10);
  extra["timeout_ms"] = 5;
  EXPECT_EQ(definition_error(waiting_workflow(extra)),
            "later.json: step 'pause': field 'timeout_ms': unknown field");
}

TEST(WaitDefinition, LiteralValuesAreCheckedAtLoad) {
  EXPECT_EQ(definition_error(waiting_workflow(wait_step("pause", "duration_ms", -1))),
            "later.json: step 'pause': field 'duration_ms': -1 is not an integer between 0 and "
            "31622400000 (366 days) or a template such as '${input.delay_ms}'");
  EXPECT_THAT(definition_error(waiting_workflow(wait_step("pause", "duration_ms", "soon"))),
              HasSubstr("field 'duration_ms': \"soon\" is not an integer"));
  EXPECT_THAT(definition_error(waiting_workflow(wait_step("pause", "duration_ms", 1.5))),
              HasSubstr("field 'duration_ms': 1.5 is not an integer"));
  EXPECT_EQ(definition_error(waiting_workflow(wait_step("pause", "until", "tomorrow"))),
            "later.json: step 'pause': field 'until': \"tomorrow\" is not an ISO-8601 UTC time "
            "such as 2026-12-24T18:00:00Z");
  EXPECT_THAT(definition_error(waiting_workflow(wait_step("pause", "until", "${input.nope"))),
              HasSubstr("later.json: step 'pause': field 'until': "));
  EXPECT_EQ(definition_error(waiting_workflow(wait_step("pause", "until", "${steps.zz.output}"))),
            "later.json: step 'pause': field 'until': '${steps.zz.output}': no step 'zz'");
  EXPECT_EQ(definition_error(waiting_workflow(wait_step("pause", "duration_ms", 0))), "accepted");
  EXPECT_EQ(definition_error(waiting_workflow(wait_step("pause", "until", "2026-12-24T18:00:00Z"))),
            "accepted");
  auto def = parse_definition(waiting_workflow(wait_step("pause", "until", "${input.at}")), "x");
  ASSERT_TRUE(def.ok());
  EXPECT_EQ((*def)->find("pause")->kind, StepKind::kWait);
  EXPECT_TRUE((*def)->find("pause")->wait_until);
}

struct WaitHarness : Harness {
  explicit WaitHarness(json wait) {
    define(waiting_workflow(std::move(wait)));
    for (const char* action : {"svc.a", "svc.b", "undo.a", "undo.b"})
      serve_ok(action);
  }
};

TEST(Wait, EndsAfterItsDuration) {
  WaitHarness h(wait_step("pause", "duration_ms", "${input.delay_ms}"));
  h.boot();
  std::string id = h.start("later", {{"delay_ms", 5000}});
  JournalRecord started = h.log.wait(id, events::kStepStarted, "pause");
  EXPECT_EQ(started.data["wait_until"], "2026-01-01T00:00:05.000Z");
  h.clock.advance(milliseconds(4999));
  h.sync();
  EXPECT_EQ(h.log.count(id, events::kStepSucceeded, "pause"), 0);
  EXPECT_EQ(h.calls.count("svc.b"), 0);
  h.clock.advance(milliseconds(1));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  JournalRecord done = h.log.wait(id, events::kStepSucceeded, "pause");
  EXPECT_EQ(done.data["output"], (json{{"waited_until", "2026-01-01T00:00:05.000Z"}}));
  EXPECT_EQ(done.data["duration_ms"], 5000);
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.b"));
}

TEST(Wait, EndsAtATimeFromTheInput) {
  WaitHarness h(wait_step("pause", "until", "${input.deliver_at}"));
  h.boot();
  std::string id = h.start("later", {{"deliver_at", "2026-01-01T01:00:00Z"}});
  h.log.wait(id, events::kStepStarted, "pause");
  EXPECT_EQ(h.clock.next_due(), milliseconds(3'600'000));
  h.clock.advance(milliseconds(3'600'000));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);

  // A time already past ends the step at once.
  std::string past = h.start("later", {{"deliver_at", "2025-06-01T00:00:00.000Z"}});
  h.log.wait(past, events::kStepStarted, "pause");
  h.clock.advance(milliseconds(0));
  EXPECT_EQ(h.log.wait_settled(past).type, events::kCompleted);
}

TEST(Wait, AnInvalidValueAtRunTimeFailsTheStepForGood) {
  WaitHarness h(wait_step("pause", "until", "${input.deliver_at}"));
  h.boot();
  std::string id = h.start("later", {{"deliver_at", "next week"}});
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(end.data["reason"],
            "step 'pause' (wait) failed: invalid_argument: until: \"next week\" is not an "
            "ISO-8601 UTC time such as 2026-12-24T18:00:00Z");
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "undo.a"));

  std::string missing = h.start("later", json::object());
  EXPECT_THAT(h.log.wait_settled(missing).data["reason"].get<std::string>(), HasSubstr("until: "));
  EXPECT_THAT(h.log.wait_settled(missing).data["reason"].get<std::string>(),
              HasSubstr("input.deliver_at"));
}

TEST(Wait, NegativeDurationAtRunTimeFailsTheStep) {
  WaitHarness h(wait_step("pause", "duration_ms", "${input.delay_ms}"));
  h.boot();
  std::string id = h.start("later", {{"delay_ms", -5}});
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_THAT(end.data["reason"].get<std::string>(),
              HasSubstr("duration_ms: -5 is not an integer between 0 and"));
}

TEST(Wait, ARestartKeepsTheRecordedDeadline) {
  WaitHarness h(wait_step("pause", "duration_ms", 10'000));
  h.boot();
  std::string id = h.start("later");
  h.log.wait(id, events::kStepStarted, "pause");
  h.clock.advance(milliseconds(4000));
  h.stop();

  h.clock.advance(milliseconds(1000));  // down for a second
  h.boot();
  h.log.wait(id, events::kResumed);
  EXPECT_EQ(h.log.wait(id, events::kResumed).data["pending"], 1);
  EXPECT_EQ(h.clock.next_due(), milliseconds(5000));  // not a new 10 s
  h.clock.advance(milliseconds(4999));
  h.sync();
  EXPECT_EQ(h.log.count(id, events::kStepSucceeded, "pause"), 0);
  h.clock.advance(milliseconds(1));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.log.count(id, events::kStepStarted, "pause"), 1);
  EXPECT_EQ(h.calls.count("svc.a"), 1);
}

TEST(Wait, ADeadlinePassedWhileDownEndsTheStepAtOnce) {
  WaitHarness h(wait_step("pause", "duration_ms", 10'000));
  h.boot();
  std::string id = h.start("later");
  h.log.wait(id, events::kStepStarted, "pause");
  h.stop();

  h.clock.advance(milliseconds(60'000));
  h.boot();
  h.log.wait(id, events::kResumed);
  EXPECT_EQ(h.clock.next_due(), milliseconds(0));
  h.clock.advance(milliseconds(0));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  JournalRecord done = h.log.wait(id, events::kStepSucceeded, "pause");
  EXPECT_EQ(done.data["output"]["waited_until"], "2026-01-01T00:00:10.000Z");
}

TEST(Wait, CancelStopsTheWaitAndCompensates) {
  WaitHarness h(wait_step("pause", "duration_ms", 3'600'000));
  Publications pubs(h.transport);
  h.boot();
  std::string id = h.start("later");
  h.log.wait(id, events::kStepStarted, "pause");
  EXPECT_EQ(h.clock.pending(), 1u);
  ASSERT_TRUE(h.engine->cancel(id, "changed my mind").ok());
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kCancelled);
  EXPECT_EQ(end.data["reason"], "cancelled: changed my mind");
  JournalRecord stopped = h.log.wait(id, events::kStepFailed, "pause");
  EXPECT_EQ(stopped.data["reason"],
            "step 'pause' (wait) stopped waiting: the workflow was cancelled");
  EXPECT_EQ(stopped.data["in_doubt"], false);
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "undo.a"));
  EXPECT_EQ(h.clock.pending(), 0u);  // the wait's timer is gone
  EXPECT_EQ(pubs.on("later.failed").size(), 1u);
}

}  // namespace
}  // namespace wonderland::workflow
