// Rerun from a step: a failed or needs_attention workflow runs again from a top-level step,
// optionally with a replaced input; the journal records who asked and what changed, and the
// rerun survives a restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "support.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;

/// a and b (compensable), then c, which refuses any request without `fixed`.
struct RerunHarness : Harness {
  RerunHarness() {
    define(workflow("fix", json::array({task("a", "svc.a", true), task("b", "svc.b", true),
                                        task("c", "svc.c")})));
    for (const char* action : {"svc.a", "svc.b", "undo.a", "undo.b"})
      serve_ok(action);
    serve("svc.c", [](const Command& c) -> Result<json> {
      if (!c.input.contains("fixed"))
        return Error::of(codes::kInvalidArgument, "no fix");
      return json{{"got", c.input}};
    });
  }
  /// Starts a workflow and returns once it failed at c.
  std::string start_failed() {
    std::string id = start("fix");
    if (log.wait_settled(id).type != events::kFailed)
      throw std::runtime_error("expected the workflow to fail");
    return id;
  }
  RerunRequest rerun(const std::string& id, const std::string& step,
                     std::optional<json> input = std::nullopt) {
    return {.workflow_id = id, .step = step, .input = std::move(input), .requested_by = "ops"};
  }
};

TEST(Rerun, AFailedStepRunsAgainWithItsNewInputAfterTheUndoneStepsBeforeIt) {
  RerunHarness h;
  h.boot();
  std::string id = h.start_failed();
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.b", "svc.c", "undo.b", "undo.a"));
  ASSERT_TRUE(h.engine->rerun(h.rerun(id, "c", json{{"fixed", true}})).ok());
  JournalRecord done = h.log.wait_settled(id, 2);
  ASSERT_EQ(done.type, events::kCompleted) << done.data.dump();
  // a and b were undone, so they run again first (new keys); c takes the replaced input.
  EXPECT_THAT(h.calls.keys("svc.a"), ElementsAre(id + ":a", id + ":a#1"));
  EXPECT_THAT(h.calls.keys("svc.c"), ElementsAre(id + ":c", id + ":c#1"));
  EXPECT_EQ(h.calls.all().back().input, (json{{"fixed", true}}));
  JournalRecord asked = h.log.wait(id, events::kRerunRequested);
  EXPECT_EQ(asked.step, "c");
  EXPECT_EQ(asked.data["requested_by"], "ops");
  EXPECT_EQ(asked.data["from_status"], "failed");
  EXPECT_EQ(asked.data["run"], 1);
  EXPECT_EQ(asked.data["previous_input"], (json{{"wf", id}}));
  EXPECT_EQ(asked.data["input"], (json{{"fixed", true}}));
  EXPECT_FALSE(asked.at.empty());
}

TEST(Rerun, StepsFromTheChosenOneRunAgainUnderNewKeysAndStepsBeforeItStand) {
  Harness h;
  h.define(
      workflow("plain", json::array({task("a", "svc.a"), task("b", "svc.b"), task("c", "svc.c")})));
  std::atomic<bool> broken{true};
  h.serve_ok("svc.a");
  h.serve_ok("svc.b");
  h.serve("svc.c", [&](const Command&) -> Result<json> {
    if (broken)
      return Error::of(codes::kUnavailable, "down");
    return json::object();
  });
  h.boot();
  std::string id = h.start("plain");
  ASSERT_EQ(h.log.wait_settled(id).type, events::kFailed);
  broken = false;
  ASSERT_TRUE(h.engine->rerun({.workflow_id = id, .step = "b", .requested_by = "ops"}).ok());
  ASSERT_EQ(h.log.wait_settled(id, 2).type, events::kCompleted);
  EXPECT_EQ(h.calls.count("svc.a"), 1);
  EXPECT_THAT(h.calls.keys("svc.b"), ElementsAre(id + ":b", id + ":b#1"));
  // c's outcome was uncertain (a retryable error): a retry would send the same key, a rerun
  // asks for a new one.
  EXPECT_THAT(h.calls.keys("svc.c"), ElementsAre(id + ":c", id + ":c#1"));
  JournalRecord asked = h.log.wait(id, events::kRerunRequested);
  EXPECT_FALSE(asked.data.contains("input"));
}

TEST(Rerun, ANeedsAttentionWorkflowLeavesItsCompensationAndRunsForward) {
  RerunHarness h;
  std::atomic<bool> broken{true};
  h.serve("undo.b", [&](const Command&) -> Result<json> {
    if (broken)
      return Error::of(codes::kInvalidArgument, "cannot undo");
    return json::object();
  });
  EngineOptions options;
  options.compensation_retry.max_attempts = 1;
  h.boot(options);
  std::string id = h.start("fix");
  ASSERT_EQ(h.log.wait_settled(id).type, events::kNeedsAttention);
  EXPECT_EQ(h.engine->metrics().awaiting_attention, 1);
  ASSERT_TRUE(h.engine->rerun(h.rerun(id, "c", json{{"fixed", 1}})).ok());
  ASSERT_EQ(h.log.wait_settled(id, 2).type, events::kCompleted);
  // a was never undone and stands; b's compensation was stuck, so b runs again.
  EXPECT_EQ(h.calls.count("svc.a"), 1);
  EXPECT_THAT(h.calls.keys("svc.b"), ElementsAre(id + ":b", id + ":b#1"));
  EXPECT_EQ(h.calls.count("undo.a"), 0);
  EXPECT_EQ(h.log.wait(id, events::kRerunRequested).data["from_status"], "needs_attention");
  EXPECT_EQ(h.engine->metrics().awaiting_attention, 0);
}

TEST(Rerun, AReplacedInputSurvivesARestart) {
  RerunHarness h;
  Parked parked;
  h.boot();
  std::string id = h.start_failed();
  h.stop();
  h.transport.on_async("svc.c", parked.handler(&h.calls));
  h.boot();
  ASSERT_TRUE(h.engine->rerun(h.rerun(id, "c", json{{"fixed", "yes"}})).ok());
  parked.wait_for(1);
  h.stop();  // c is in flight
  h.serve("svc.c", [](const Command& c) -> Result<json> { return json{{"got", c.input}}; });
  h.boot();
  JournalRecord done = h.log.wait_settled(id, 2);
  ASSERT_EQ(done.type, events::kCompleted);
  EXPECT_EQ(h.calls.all().back().input, (json{{"fixed", "yes"}}));
  EXPECT_EQ(h.calls.all().back().idempotency_key, id + ":c#1");
}

TEST(Rerun, RefusedForUnknownStepsBadInputsAndOtherStatuses) {
  RerunHarness h;
  h.define(workflow("other", json::array({{{"id", "pause"}, {"kind", "wait"}, {"duration_ms", 1}},
                                          task("a", "svc.a")})));
  h.boot();
  std::string id = h.start_failed();
  auto code = [&](RerunRequest r) { return h.engine->rerun(std::move(r)).error().code; };
  EXPECT_EQ(code(h.rerun(id, "nope")), codes::kInvalidArgument);
  EXPECT_EQ(code(h.rerun(id, "tell")), codes::kInvalidArgument);  // on_failure, not top level
  EXPECT_EQ(code(h.rerun(id, "c", json::array())), codes::kInvalidArgument);
  EXPECT_EQ(code(h.rerun("nobody", "c")), codes::kNotFound);
  std::string waiting = h.start("other");
  EXPECT_EQ(code(h.rerun(waiting, "a")), codes::kFailedPrecondition);  // running
  h.clock.advance(std::chrono::milliseconds(1));
  ASSERT_EQ(h.log.wait_settled(waiting).type, events::kCompleted);
  EXPECT_EQ(code(h.rerun(waiting, "pause", json::object())), codes::kInvalidArgument);
  EXPECT_EQ(code(h.rerun(waiting, "a")), codes::kFailedPrecondition);
  EXPECT_EQ(h.log.count(id, events::kRerunRequested), 0);
}

}  // namespace
}  // namespace wonderland::workflow
