// The pivot: once the step named by a definition's `pivot` succeeded, the workflow is decided.
// Steps after it retry as long as their errors are retryable, a final error leaves the workflow
// needing attention with nothing undone, a cancel is refused, and an operator's retry runs the
// failed steps again. In-process services, a manual clock, a SQLite journal.
#include <gtest/gtest.h>

#include <atomic>

#include "support.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT

/// reserve (undone by undo.reserve), record (the pivot), then announce (svc.announce), whose
/// retry policy alone would give up after two attempts or two seconds.
json decided_workflow(const std::string& name) {
  json announce = task("announce", "svc.announce");
  announce["retry"] = {{"max_attempts", 2},
                       {"initial_backoff_ms", 100},
                       {"max_backoff_ms", 1000},
                       {"jitter", 0},
                       {"transient_for_ms", 2000}};
  json doc = workflow(name, json::array({task("reserve", "svc.reserve", true),
                                         task("record", "svc.record"), announce}));
  doc["pivot"] = "record";
  return doc;
}

/// Serves the steps of decided_workflow: every one succeeds but announce, which answers
/// `announce`.
void serve_decided(Harness& h, std::function<Result<json>()> announce) {
  h.serve_ok("svc.reserve");
  h.serve_ok("svc.record");
  h.serve_ok("undo.reserve");
  h.serve("svc.announce", [announce = std::move(announce)](const Command&) { return announce(); });
}

TEST(Pivot, AfterThePivotRetryableErrorsAreRetriedBeyondAttemptsAndTimeBudget) {
  Harness h;
  h.define(decided_workflow("outage"));
  std::atomic<bool> down{true};
  serve_decided(h, [&]() -> Result<json> {
    if (down)
      return Error::of(codes::kUnavailable, "broker down");
    return json::object();
  });
  h.boot();
  std::string id = h.start("outage");
  // 100 + 200 + 400 + 800 + 1000 + 1000 + 1000 + 1000 ms: eight retries, past both the two
  // attempts and the two seconds the step's policy allows.
  for (int n = 1; n < 8; ++n)
    ASSERT_NO_FATAL_FAILURE(next_retry(h, id, "announce", n));
  // Back before the clock lets the ninth attempt run (set after it, the attempt could fail first
  // and wait for a clock that no longer moves).
  h.log.wait(id, events::kStepAttemptFailed, "announce", 8);
  EXPECT_EQ(h.log.count(id, events::kStepFailed, "announce"), 0);
  down = false;
  ASSERT_NO_FATAL_FAILURE(next_retry(h, id, "announce", 8));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.calls.count("svc.announce"), 9);
  EXPECT_EQ(h.calls.count("undo.reserve"), 0);
}

TEST(Pivot, BeforeThePivotTheSamePolicyGivesUpAndCompensates) {
  // The control for the test above: without a pivot the same step gives up once its two seconds
  // are over (the sixth attempt, at 2.5 s) and the reservation is undone.
  Harness h;
  json doc = decided_workflow("undecided");
  doc.erase("pivot");
  h.define(doc);
  serve_decided(h, []() -> Result<json> { return Error::of(codes::kUnavailable, "down"); });
  h.boot();
  std::string id = h.start("undecided");
  for (int n = 1; n <= 5; ++n)
    ASSERT_NO_FATAL_FAILURE(next_retry(h, id, "announce", n));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kFailed);
  EXPECT_EQ(h.calls.count("svc.announce"), 6);
  EXPECT_EQ(h.calls.count("undo.reserve"), 1);
}

TEST(Pivot, AFinalErrorAfterThePivotNeedsAttentionUndoesNothingAndRetryRunsItAgain) {
  Harness h;
  h.define(decided_workflow("refused"));
  std::atomic<bool> refusing{true};
  serve_decided(h, [&]() -> Result<json> {
    if (refusing)
      return Error::of(codes::kInvalidArgument, "payload refused");
    return json::object();
  });
  h.boot();
  std::string id = h.start("refused");
  JournalRecord end = h.log.wait_settled(id);
  ASSERT_EQ(end.type, events::kNeedsAttention) << end.data.dump();
  EXPECT_EQ(end.data["pivot"], "record");
  const std::string reason = end.data["reason"];
  EXPECT_NE(reason.find("step 'announce' (svc.announce) failed: invalid_argument: payload refused"),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("after the pivot 'record' succeeded: nothing is undone"), std::string::npos)
      << reason;
  EXPECT_EQ(h.log.count(id, events::kCompensating), 0);
  EXPECT_EQ(h.calls.count("undo.reserve"), 0);
  EXPECT_EQ(h.log.count(id, events::kStepStarted, "on_failure/tell"), 0);
  EXPECT_EQ((*h.engine->find(id))->status, WorkflowStatus::kNeedsAttention);

  // A crash in between: the decision is rebuilt from the journal, so the retry runs the failed
  // step again (under a new key: its error was final) rather than compensating.
  h.stop();
  h.boot();
  refusing = false;
  ASSERT_TRUE(h.engine->retry(id).ok());
  EXPECT_EQ(h.log.wait_settled(id, 2).type, events::kCompleted);
  EXPECT_EQ(h.log.wait(id, events::kRetryRequested).data["mode"], "restart");
  EXPECT_EQ(h.calls.count("svc.reserve"), 1);
  EXPECT_EQ(h.calls.count("svc.record"), 1);
  auto keys = h.calls.keys("svc.announce");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_NE(keys[0], keys[1]);
  EXPECT_EQ(h.calls.count("undo.reserve"), 0);
}

TEST(Pivot, ACancelIsRefusedOnceDecidedAndAcceptedBefore) {
  Harness h;
  json doc =
      workflow("held", json::array({task("reserve", "svc.reserve", true),
                                    task("record", "svc.record"),
                                    {{"id", "later"}, {"kind", "wait"}, {"duration_ms", 60000}},
                                    task("announce", "svc.announce")}));
  doc["pivot"] = "record";
  h.define(doc);
  Parked reserve;
  h.transport.on_async("svc.reserve", reserve.handler(&h.calls));
  h.serve_ok("svc.record");
  h.serve_ok("svc.announce");
  h.serve_ok("undo.reserve");
  h.boot();

  // Before the pivot a cancel compensates as always.
  std::string early = h.start("held");
  reserve.wait_for(1);
  ASSERT_TRUE(h.engine->cancel(early, "changed my mind").ok());
  reserve.reply("reserve", json::object(), early);
  EXPECT_EQ(h.log.wait_settled(early).type, events::kCancelled);
  EXPECT_EQ(h.calls.count("undo.reserve"), 1);

  // After it, the cancel is refused and the workflow goes on.
  std::string late = h.start("held");
  reserve.wait_for(1);
  reserve.reply("reserve", json::object(), late);
  h.log.wait(late, events::kStepStarted, "later");
  Status st = h.engine->cancel(late, "too late");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, codes::kFailedPrecondition);
  EXPECT_NE(st.error().message.find("passed its pivot step 'record'"), std::string::npos)
      << st.error().message;
  h.clock.advance(std::chrono::milliseconds(60000));
  EXPECT_EQ(h.log.wait_settled(late).type, events::kCompleted);
  EXPECT_EQ(h.log.count(late, events::kCancelRequested), 0);
  EXPECT_EQ(h.calls.count("undo.reserve"), 1);
}

/// A parent whose workflow step starts `packed` (its pivot is its only step, pick), then fails
/// at ship: undoing the child would undo what its pivot decided.
TEST(Pivot, AParentCannotUndoADecidedChildAndNeedsAttentionInstead) {
  Harness h;
  json packed = workflow("packed", json::array({task("pick", "svc.pick", true)}));
  packed["pivot"] = "pick";
  h.define(packed);
  h.define(workflow("shipping",
                    json::array({task("a", "svc.a", true),
                                 {{"id", "pack"}, {"kind", "workflow"}, {"definition", "packed"}},
                                 task("ship", "svc.ship")})));
  for (const char* action : {"svc.a", "svc.pick", "undo.a", "undo.pick"})
    h.serve_ok(action);
  h.serve("svc.ship",
          [](const Command&) -> Result<json> { return Error::of(codes::kNotFound, "no route"); });
  h.boot();
  std::string id = h.start("shipping", json::object(), "ship-1");
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kNeedsAttention) << end.data.dump();
  const std::string reason = end.data.value("reason", "");
  EXPECT_NE(reason.find("compensation of step 'pack' (undo of its workflows) failed: "
                        "failed_precondition: workflow ship-1.pack needs attention: it passed its "
                        "pivot step 'pick' and cannot be undone"),
            std::string::npos)
      << reason;
  EXPECT_EQ(h.log.wait_settled("ship-1.pack").type, events::kCompleted);
  EXPECT_EQ(h.log.count("ship-1.pack", events::kUndoRequested), 0);
  EXPECT_EQ(h.calls.count("undo.pick"), 0);
}

TEST(Pivot, CancellingTheParentLeavesADecidedChildToFinish) {
  Harness h;
  json packed =
      workflow("packed", json::array({task("pick", "svc.pick", true),
                                      {{"id", "cool"}, {"kind", "wait"}, {"duration_ms", 60000}}}));
  packed["pivot"] = "pick";
  h.define(packed);
  h.define(workflow("shipping",
                    json::array({{{"id", "pack"}, {"kind", "workflow"}, {"definition", "packed"}},
                                 task("ship", "svc.ship")})));
  for (const char* action : {"svc.pick", "undo.pick", "svc.ship"})
    h.serve_ok(action);
  h.boot();
  std::string id = h.start("shipping", json::object(), "ship-2");
  h.log.wait("ship-2.pack", events::kStepStarted, "cool");
  ASSERT_TRUE(h.engine->cancel(id, "changed my mind").ok());
  h.sync();
  EXPECT_EQ(h.log.count("ship-2.pack", events::kCancelRequested), 0);
  h.clock.advance(std::chrono::milliseconds(60000));
  EXPECT_EQ(h.log.wait_settled("ship-2.pack").type, events::kCompleted);
  // The parent does not go on, and cannot undo the child: an operator must look.
  EXPECT_EQ(h.log.wait_settled(id).type, events::kNeedsAttention);
  EXPECT_EQ(h.calls.count("svc.ship"), 0);
  EXPECT_EQ(h.calls.count("undo.pick"), 0);
}

JournalRecord record(const std::string& type, const std::string& step = "") {
  JournalRecord r;
  r.type = type;
  r.step = step;
  return r;
}

TEST(Pivot, ATimelineIsDecidedFromThePivotsSuccessUntilARerunFromItOrBefore) {
  json doc = decided_workflow("decided");
  auto def = parse_definition(doc, "decided.json");
  ASSERT_TRUE(def.ok()) << def.error().message;
  std::vector<JournalRecord> t{record(events::kStarted), record(events::kStepSucceeded, "reserve")};
  EXPECT_FALSE(is_decided(**def, t));
  t.push_back(record(events::kStepFailed, "record"));
  EXPECT_FALSE(is_decided(**def, t));
  t.push_back(record(events::kStepSucceeded, "record"));
  EXPECT_TRUE(is_decided(**def, t));
  t.push_back(record(events::kNeedsAttention));
  t.push_back(record(events::kRerunRequested, "announce"));  // after the pivot: still decided
  EXPECT_TRUE(is_decided(**def, t));
  t.push_back(record(events::kRerunRequested, "record"));  // the pivot runs again
  EXPECT_FALSE(is_decided(**def, t));
  t.push_back(record(events::kStepSucceeded, "record"));
  EXPECT_TRUE(is_decided(**def, t));
  t.push_back(record(events::kRerunRequested, "reserve"));
  EXPECT_FALSE(is_decided(**def, t));

  doc.erase("pivot");
  auto plain = parse_definition(doc, "plain.json");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(is_decided(**plain, {record(events::kStepSucceeded, "record")}));
}

}  // namespace
}  // namespace wonderland::workflow
