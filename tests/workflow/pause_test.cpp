// Pause and resume: a paused workflow starts no new step, lets what is in flight finish and be
// recorded, keeps its timers counting, survives a restart, and can still be cancelled.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT
using std::chrono::milliseconds;
using ::testing::ElementsAre;

/// a (parked, compensable), a wait of 10 s, then b.
struct PauseHarness : Harness {
  Parked parked;
  PauseHarness() {
    json pause = {{"id", "cool_off"}, {"kind", "wait"}, {"duration_ms", 10000}};
    define(workflow("held", json::array({task("a", "svc.a", true), pause, task("b", "svc.b")})));
    transport.on_async("svc.a", parked.handler(&calls));
    for (const char* action : {"svc.b", "undo.a"})
      serve_ok(action);
  }
  /// Starts a workflow and lets `a` succeed; returns once `cool_off` waits.
  std::string start_waiting() {
    std::string id = start("held");
    parked.wait_for(1);
    parked.reply("a", json::object());
    log.wait(id, events::kStepStarted, "cool_off");
    return id;
  }
};

TEST(Pause, AStepInFlightFinishesAndNothingNewStartsUntilResumed) {
  PauseHarness h;
  h.boot();
  std::string id = h.start("held");
  h.parked.wait_for(1);
  ASSERT_TRUE(h.engine->pause(id).ok());
  h.sync();  // the observers of the record have run
  EXPECT_EQ(h.log.count(id, events::kPauseRequested), 1);
  ASSERT_TRUE(h.engine->pause(id).ok());  // again: nothing more recorded
  h.sync();
  EXPECT_EQ(h.log.count(id, events::kPauseRequested), 1);
  h.parked.reply("a", json::object());
  h.log.wait(id, events::kStepSucceeded, "a");
  h.sync();
  EXPECT_EQ(h.log.count(id, events::kStepStarted, "cool_off"), 0);
  EXPECT_EQ(h.clock.pending(), 0u);
  ASSERT_TRUE(h.engine->resume(id).ok());
  h.log.wait(id, events::kResumeRequested);
  h.log.wait(id, events::kStepStarted, "cool_off");
  h.clock.advance(milliseconds(10000));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.log.count(id, events::kPauseRequested), 1);
}

TEST(Pause, TimersKeepCountingWhilePaused) {
  PauseHarness h;
  h.boot();
  std::string id = h.start_waiting();
  ASSERT_TRUE(h.engine->pause(id).ok());
  h.clock.advance(milliseconds(10000));
  // The wait ended on time and is recorded; b waits for the resume.
  h.log.wait(id, events::kStepSucceeded, "cool_off");
  h.sync();
  EXPECT_EQ(h.calls.count("svc.b"), 0);
  ASSERT_TRUE(h.engine->resume(id).ok());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.calls.count("svc.b"), 1);
}

TEST(Pause, APausedWorkflowCanBeCancelledAndIsCompensated) {
  PauseHarness h;
  h.boot();
  std::string id = h.start_waiting();
  ASSERT_TRUE(h.engine->pause(id).ok());
  h.clock.advance(milliseconds(10000));
  h.log.wait(id, events::kStepSucceeded, "cool_off");
  ASSERT_TRUE(h.engine->cancel(id, "not needed").ok());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCancelled);
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "undo.a"));
  // Settled: neither pause nor resume applies any more.
  EXPECT_EQ(h.engine->pause(id).error().code, codes::kFailedPrecondition);
  EXPECT_EQ(h.engine->resume(id).error().code, codes::kFailedPrecondition);
}

TEST(Pause, APauseSurvivesARestart) {
  PauseHarness h;
  h.boot();
  std::string id = h.start_waiting();
  ASSERT_TRUE(h.engine->pause(id).ok());
  h.stop();
  h.clock.advance(milliseconds(20000));  // the wait ended while the engine was down
  h.boot();
  h.log.wait(id, events::kResumed);
  h.clock.advance(milliseconds(0));  // the timer due at once
  h.log.wait(id, events::kStepSucceeded, "cool_off");
  h.sync();
  EXPECT_EQ(h.calls.count("svc.b"), 0);
  ASSERT_TRUE(h.engine->resume(id).ok());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
}

TEST(Pause, UnknownWorkflowsAreNotFound) {
  PauseHarness h;
  h.boot();
  EXPECT_EQ(h.engine->pause("nobody").error().code, codes::kNotFound);
  EXPECT_EQ(h.engine->resume("nobody").error().code, codes::kNotFound);
}

}  // namespace
}  // namespace wonderland::workflow
