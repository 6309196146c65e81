// Workflow steps: a parent starts a child workflow of a named definition, waits for it and takes
// its output; a failed child fails the step, a cancelled parent cancels its child, a completed
// child is undone when the parent compensates, and a restart finds the child again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;
using ::testing::HasSubstr;

json child_step(const std::string& id, json extra = json::object()) {
  json s = {{"id", id},
            {"kind", "workflow"},
            {"definition", "packing"},
            {"version", 1},
            {"input", {{"order", "${input.order}"}}}};
  s.update(extra);
  return s;
}

/// packing: pick (compensable, parked), then label; output {parcel}.
json packing() {
  json doc = workflow(
      "packing", json::array({task("pick", "svc.pick", true), task("label", "svc.label", true)}));
  doc["output"] = {{"parcel", "${steps.label.output.parcel}"}, {"order", "${input.order}"}};
  return doc;
}

/// shipping: a (compensable), the child step `pack`, then ship (uses the child's parcel).
json shipping(json pack = child_step("pack")) {
  json ship = task("ship", "svc.ship", true);
  ship["input"] = {{"parcel", "${steps.pack.output.parcel}"}};
  return workflow("shipping", json::array({task("a", "svc.a", true), std::move(pack), ship}));
}

std::string load_error(const std::vector<json>& docs) {
  DefinitionRegistry registry;
  for (const json& doc : docs) {
    auto def = parse_definition(doc, doc["name"].get<std::string>() + ".json");
    if (!def)
      return def.error().message;
    if (auto st = registry.add(*def); !st)
      return st.error().message;
  }
  auto st = registry.check_references();
  return st ? std::string("accepted") : st.error().message;
}

TEST(ChildWorkflowDefinition, FieldsAndReferencesAreChecked) {
  EXPECT_EQ(load_error({packing(), shipping()}), "accepted");
  EXPECT_EQ(load_error({packing(), shipping(child_step("pack", {{"version", 2}}))}),
            "shipping.json: step 'pack': field 'definition': no definition 'packing' version 2 "
            "is registered");
  EXPECT_EQ(load_error({shipping()}),
            "shipping.json: step 'pack': field 'definition': no definition 'packing' version 1 "
            "is registered");
  json no_version = child_step("pack");
  no_version.erase("version");
  EXPECT_EQ(load_error({packing(), shipping(no_version)}), "accepted");
  EXPECT_EQ(load_error({shipping(child_step("pack", {{"definition", "Packing"}}))}),
            "shipping.json: step 'pack': field 'definition': must be lower-case letters, digits, "
            "'_', '-' or '.'");
  EXPECT_EQ(load_error({shipping(child_step("pack", {{"retry", json::object()}}))}),
            "shipping.json: step 'pack': field 'retry': unknown field");
  EXPECT_EQ(load_error({shipping(child_step("pack", {{"input", "${input}"}}))}),
            "shipping.json: step 'pack': field 'input': must be an object (the child workflow's "
            "input)");
  // A definition that would start itself again.
  json loop = workflow("loop", json::array({child_step("again", {{"definition", "loop"}})}));
  EXPECT_EQ(load_error({loop}),
            "loop.json: step 'again': field 'definition': loop would start itself again (a cycle "
            "of workflow steps)");
}

struct ChildHarness : Harness {
  Parked parked;
  ChildHarness() {
    define(packing());
    define(shipping());
    transport.on_async("svc.pick", parked.handler(&calls));
    serve("svc.label", [](const Command& c) -> Result<json> {
      return json{{"parcel", "P-" + c.workflow_id}};
    });
    for (const char* action :
         {"svc.a", "svc.ship", "undo.a", "undo.pick", "undo.label", "undo.ship"})
      serve_ok(action);
  }
};

TEST(ChildWorkflow, TheChildsOutputIsTheStepsOutput) {
  ChildHarness h;
  h.boot();
  std::string id = h.start("shipping", {{"order", "o-1"}}, "ship-1");
  h.parked.wait_for(1);
  const std::string child = "ship-1.pack";
  JournalRecord started = h.log.wait(id, events::kStepStarted, "pack");
  EXPECT_EQ(started.data["child_id"], child);
  EXPECT_EQ(started.data["definition"], "packing");
  EXPECT_EQ(started.data["version"], 1);
  EXPECT_EQ(started.data["input"], (json{{"order", "o-1"}}));
  JournalRecord child_started = h.log.wait(child, events::kStarted);
  EXPECT_EQ(child_started.data["parent"], (json{{"workflow_id", id}, {"step", "pack"}}));
  EXPECT_EQ(child_started.data["input"], (json{{"order", "o-1"}}));

  h.parked.reply("pick", json::object());
  EXPECT_EQ(h.log.wait_settled(child).type, events::kCompleted);
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  JournalRecord done = h.log.wait(id, events::kStepSucceeded, "pack");
  EXPECT_EQ(done.data["output"], (json{{"parcel", "P-ship-1.pack"}, {"order", "o-1"}}));
  EXPECT_EQ(done.data["child_id"], child);
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.pick", "svc.label", "svc.ship"));
  EXPECT_EQ(h.calls.all().back().input["parcel"], "P-ship-1.pack");
}

TEST(ChildWorkflow, AFailedChildFailsTheStepAndTheParentCompensates) {
  ChildHarness h;
  Publications pubs(h.transport);
  h.boot();
  std::string id = h.start("shipping", {{"order", "o-2"}}, "ship-2");
  h.parked.wait_for(1);
  h.parked.reply("pick", Error::of(codes::kFailedPrecondition, "out of boxes"));
  JournalRecord child_end = h.log.wait_settled("ship-2.pack");
  EXPECT_EQ(child_end.type, events::kFailed);
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(end.data["step"], "pack");
  EXPECT_EQ(end.data["error"]["code"], "failed_precondition");
  EXPECT_THAT(end.data["reason"].get<std::string>(),
              HasSubstr("step 'pack' (workflow packing) failed: workflow ship-2.pack failed: "
                        "step 'pick' (svc.pick) failed: failed_precondition: out of boxes"));
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.pick", "undo.a"));
  EXPECT_EQ(pubs.on("shipping.failed").size(), 1u);
  EXPECT_EQ(pubs.on("packing.failed").size(), 1u);
}

TEST(ChildWorkflow, CancellingTheParentCancelsTheChild) {
  ChildHarness h;
  h.boot();
  std::string id = h.start("shipping", {{"order", "o-3"}}, "ship-3");
  h.parked.wait_for(1);
  ASSERT_TRUE(h.engine->cancel(id, "customer changed their mind").ok());
  JournalRecord cancel = h.log.wait("ship-3.pack", events::kCancelRequested);
  EXPECT_EQ(cancel.data["reason"], "workflow ship-3 was cancelled");
  h.parked.reply("pick", json::object());  // the command in flight finishes, then is undone
  EXPECT_EQ(h.log.wait_settled("ship-3.pack").type, events::kCancelled);
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kCancelled);
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.pick", "undo.pick", "undo.a"));
}

TEST(ChildWorkflow, ACompletedChildIsUndoneWhenALaterStepFails) {
  ChildHarness h;
  h.serve("svc.ship",
          [](const Command&) -> Result<json> { return Error::of(codes::kNotFound, "no route"); });
  h.boot();
  std::string id = h.start("shipping", {{"order", "o-4"}}, "ship-4");
  h.parked.wait_for(1);
  h.parked.reply("pick", json::object());
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(end.data["compensations"], 2);
  JournalRecord undo = h.log.wait("ship-4.pack", events::kUndoRequested);
  EXPECT_EQ(undo.data["reason"], "undone: workflow ship-4 compensates step 'pack'");
  EXPECT_EQ(h.log.wait_settled("ship-4.pack", 2).type, events::kCancelled);
  EXPECT_EQ(h.log.count(id, events::kIterationUndone, "pack"), 1);
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.pick", "svc.label", "svc.ship",
                                             "undo.label", "undo.pick", "undo.a"));
}

TEST(ChildWorkflow, AnArchivedChildCannotBeUndoneAndItsParentNeedsAttention) {
  // Retention moved the completed child to the archive (read-only) while its parent waited for
  // a signal; a later failure of the parent cannot undo it, and must not count it as undone.
  Harness h;
  h.define(workflow("boxing", json::array({task("pick", "svc.pick", true)})));
  h.define(workflow(
      "posting",
      json::array({{{"id", "pack"}, {"kind", "workflow"}, {"definition", "boxing"}},
                   {{"id", "go"}, {"kind", "signal"}, {"signal", "go"}, {"timeout_ms", 60000}},
                   task("ship", "svc.ship")})));
  for (const char* action : {"svc.pick", "undo.pick"})
    h.serve_ok(action);
  h.serve("svc.ship",
          [](const Command&) -> Result<json> { return Error::of(codes::kNotFound, "no route"); });
  h.boot();
  std::string id = h.start("posting", json::object(), "post-1");
  EXPECT_EQ(h.log.wait_settled("post-1.pack").type, events::kCompleted);
  h.log.wait(id, events::kStepStarted, "go");
  ASSERT_EQ(h.journal->archive_finished(std::chrono::milliseconds(0), 100).value(), 1u);
  ASSERT_TRUE(h.engine->signal(SignalRequest{.workflow_id = id, .name = "go"}).ok());
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kNeedsAttention) << end.data.dump();
  EXPECT_THAT(end.data.value("reason", ""), HasSubstr("is archived"));
  EXPECT_EQ(h.log.count(id, events::kIterationUndone, "pack"), 0);
  EXPECT_EQ(h.calls.count("undo.pick"), 0);
}

TEST(ChildWorkflow, ARestartFindsTheChildAndStartsNoOther) {
  ChildHarness h;
  h.boot();
  std::string id = h.start("shipping", {{"order", "o-5"}}, "ship-5");
  h.parked.wait_for(1);
  h.log.wait("ship-5.pack", events::kStepStarted, "pick");
  h.stop();
  (void)h.parked.take_all();  // the old engine's replies go nowhere

  h.boot();
  h.parked.wait_for(1);  // the child's command, sent again with its key
  h.log.wait(id, events::kResumed);
  EXPECT_EQ(h.log.wait(id, events::kResumed).data["pending"], 1);
  h.parked.reply("pick", json::object());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.log.count("ship-5.pack", events::kStarted), 1);
  EXPECT_EQ(h.log.count(id, events::kStepStarted, "pack"), 1);
  auto keys = h.calls.keys("svc.pick");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], keys[1]);
  EXPECT_EQ(h.calls.count("svc.ship"), 1);
}

TEST(ChildWorkflow, AChildThatEndedWhileTheParentWasDownIsReportedOnRestart) {
  ChildHarness h;
  h.boot();
  std::string id = h.start("shipping", {{"order", "o-6"}}, "ship-6");
  h.parked.wait_for(1);
  // Record the child's end but not the parent's step: as if the engine stopped in between.
  h.stop();
  (void)h.parked.take_all();
  {
    auto journal = open_sqlite_journal({.path = h.journal_path()}).value();
    auto child = journal->history("ship-6.pack").value();
    JournalRecord completed;
    completed.workflow_id = "ship-6.pack";
    completed.seq = child.records.back().seq + 1;
    completed.type = events::kCompleted;
    completed.at = child.records.back().at;
    completed.data = {{"output", {{"parcel", "P-early"}}}};
    completed.status = WorkflowStatus::kCompleted;
    ASSERT_TRUE(journal
                    ->append_and_wait(std::make_shared<std::vector<JournalRecord>>(
                        std::vector<JournalRecord>{completed}))
                    .ok());
  }
  h.boot();
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.log.wait(id, events::kStepSucceeded, "pack").data["output"],
            (json{{"parcel", "P-early"}}));
  EXPECT_EQ(h.calls.count("svc.pick"), 1);
  EXPECT_EQ(h.log.count(id, events::kStepStarted, "pack"), 1);
}

/// Fails `id` at its child step: the child's pick is refused for good.
void fail_child(ChildHarness& h, const std::string& id, const std::string& child, int run) {
  h.parked.wait_for(1);
  h.parked.reply("pick", Error::of(codes::kFailedPrecondition, "out of boxes"), child);
  ASSERT_EQ(h.log.wait_settled(child).type, events::kFailed);
  ASSERT_EQ(h.log.wait_settled(id, run).type, events::kFailed);
}

/// Completes `id` through `child` (started for run `run`) and checks the step took its output
/// and that the earlier children were neither started again nor reused.
void complete_through(ChildHarness& h, const std::string& id, const std::string& child, int run,
                      const std::vector<std::string>& failed_children) {
  h.parked.wait_for(1);
  ASSERT_EQ(h.parked.commands().at(0).workflow_id, child);
  EXPECT_EQ(h.log.wait(id, events::kStepStarted, "pack", run).data["child_id"], child);
  EXPECT_EQ(h.log.wait(child, events::kStarted).data["parent"],
            (json{{"workflow_id", id}, {"step", "pack"}}));
  h.parked.reply("pick", json::object(), child);
  ASSERT_EQ(h.log.wait_settled(id, run).type, events::kCompleted);
  JournalRecord done = h.log.wait(id, events::kStepSucceeded, "pack");
  EXPECT_EQ(done.data["child_id"], child);
  EXPECT_EQ(done.data["output"]["parcel"], "P-" + child);
  EXPECT_EQ(h.calls.all().back().action, "svc.ship");
  EXPECT_EQ(h.calls.all().back().input["parcel"], "P-" + child);
  for (const std::string& old : failed_children) {
    EXPECT_EQ(h.log.count(old, events::kStarted), 1) << old;
    EXPECT_EQ(h.log.count(old, events::kFailed), 1) << old;
    EXPECT_EQ(h.log.count(old, events::kCompleted), 0) << old;
  }
  EXPECT_EQ(h.log.count(id, events::kStepStarted, "pack"), run);
}

TEST(ChildWorkflow, ARetryAfterTheChildFailedStartsANewChild) {
  ChildHarness h;
  h.boot();
  std::string id = h.start("shipping", {{"order", "o-7"}}, "ship-7");
  fail_child(h, id, "ship-7.pack", 1);
  ASSERT_TRUE(h.engine->retry(id).ok());
  // The failed child is not taken again: the step runs a new one, named after the retry.
  complete_through(h, id, "ship-7.pack-r1", 2, {"ship-7.pack"});
  // a was undone, so it ran again under a new key.
  EXPECT_THAT(h.calls.keys("svc.a"), ElementsAre(id + ":a", id + ":a#1"));
}

TEST(ChildWorkflow, EachRerunFromTheStepStartsANewChild) {
  ChildHarness h;
  h.boot();
  std::string id = h.start("shipping", {{"order", "o-8"}}, "ship-8");
  fail_child(h, id, "ship-8.pack", 1);
  auto rerun = [&] {
    return h.engine->rerun({.workflow_id = id, .step = "pack", .requested_by = "ops"});
  };
  ASSERT_TRUE(rerun().ok());
  fail_child(h, id, "ship-8.pack-r1", 2);
  ASSERT_TRUE(rerun().ok());
  complete_through(h, id, "ship-8.pack-r2", 3, {"ship-8.pack", "ship-8.pack-r1"});
}

}  // namespace
}  // namespace wonderland::workflow
