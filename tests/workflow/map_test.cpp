// Map steps: a sequence of steps runs once per element of an array, as child workflows that see
// `${item}` and `${index}`, at most `concurrency` at a time; the outputs are collected in order.
// A failed iteration fails the map once the running ones settled, and the completed iterations
// are undone, latest index first; a restart goes on where the journal says.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;
using ::testing::HasSubstr;

json map_step(json extra = json::object()) {
  json work = task("work", "svc.work", true);
  work["input"] = {{"sku", "${item.sku}"}, {"line", "${index}"}, {"order", "${input.order?}"}};
  json s = {{"id", "lines"},
            {"kind", "map"},
            {"items", "${input.lines}"},
            {"concurrency", 2},
            {"steps", json::array({work})}};
  s.update(extra);
  return s;
}

/// a (compensable), the map `lines`, then done (uses the map's output).
json order_workflow(json map = map_step()) {
  json done = task("done", "svc.done");
  done["input"] = {{"lines", "${steps.lines.output}"}};
  return workflow("bulk", json::array({task("a", "svc.a", true), std::move(map), done}));
}

json lines(int n) {
  json out = json::array();
  for (int i = 0; i < n; ++i)
    out.push_back({{"sku", "s" + std::to_string(i)}});
  return out;
}

std::string definition_error(const json& doc) {
  auto def = parse_definition(doc, "bulk.json");
  return def ? std::string("accepted") : def.error().message;
}

TEST(MapDefinition, FieldsAreChecked) {
  EXPECT_EQ(definition_error(order_workflow()), "accepted");
  EXPECT_EQ(definition_error(order_workflow(map_step({{"concurrency", 0}}))),
            "bulk.json: step 'lines': field 'concurrency': must be an integer between 1 and 1000");
  EXPECT_EQ(definition_error(order_workflow(map_step({{"items", "lines"}}))),
            "bulk.json: step 'lines': field 'items': must be an array or a template such as "
            "'${input.orders}'");
  EXPECT_EQ(definition_error(order_workflow(map_step({{"items", 3}}))),
            "bulk.json: step 'lines': field 'items': must be an array or a template such as "
            "'${input.orders}'");
  EXPECT_EQ(definition_error(order_workflow(map_step({{"items", "${steps.nope.output}"}}))),
            "bulk.json: step 'lines': field 'items': '${steps.nope.output}': no step 'nope'");
  EXPECT_EQ(definition_error(order_workflow(map_step({{"steps", json::array()}}))),
            "bulk.json: step 'lines': field 'steps': must not be empty");
  EXPECT_EQ(definition_error(order_workflow(map_step({{"items", json::array({1, 2})}}))),
            "accepted");
  // ${item} exists only inside a map's steps.
  json outside = task("a", "svc.a");
  outside["input"] = {{"x", "${item}"}};
  EXPECT_EQ(definition_error(workflow("bulk", json::array({outside}))),
            "bulk.json: step 'a': field 'input': '${item}': must start with input, workflow, "
            "steps or failure");
  auto def = parse_definition(order_workflow(), "bulk.json");
  ASSERT_TRUE(def.ok());
  const Step* map = (*def)->find("lines");
  EXPECT_EQ(map->kind, StepKind::kMap);
  EXPECT_EQ(map->concurrency, 2);
  ASSERT_TRUE(map->body);
  EXPECT_EQ(map->body->name, "bulk/lines");
  EXPECT_EQ((*def)->bodies.size(), 1u);
}

struct MapHarness : Harness {
  Parked parked;
  explicit MapHarness(json map = map_step()) {
    define(order_workflow(std::move(map)));
    transport.on_async("svc.work", parked.handler(&calls));
    for (const char* action : {"svc.a", "svc.done", "undo.a", "undo.work"})
      serve_ok(action);
  }
  /// The iterations' commands parked now, by their workflow.
  std::vector<std::string> parked_workflows() {
    sync();
    std::vector<std::string> out;
    for (const Command& c : parked.commands())
      out.push_back(c.workflow_id);
    return out;
  }
  void finish(const std::string& child) { parked.reply("work", json{{"done", child}}, child); }
};

TEST(Map, CollectsTheOutputsInOrderWithinTheConcurrencyLimit) {
  MapHarness h;
  h.boot();
  std::string id = h.start("bulk", {{"lines", lines(3)}, {"order", "o-1"}}, "bulk-1");
  h.parked.wait_for(2);
  EXPECT_THAT(h.parked_workflows(), ElementsAre("bulk-1.lines.0", "bulk-1.lines.1"));
  JournalRecord started = h.log.wait(id, events::kStepStarted, "lines");
  EXPECT_EQ(started.data["count"], 3);
  EXPECT_EQ(started.data["concurrency"], 2);
  JournalRecord child = h.log.wait("bulk-1.lines.1", events::kStarted);
  EXPECT_EQ(child.data["item"], (json{{"sku", "s1"}}));
  EXPECT_EQ(child.data["index"], 1);
  EXPECT_EQ(child.data["definition"], "bulk/lines");
  EXPECT_EQ(child.data["parent"], (json{{"workflow_id", id}, {"step", "lines"}}));
  auto sent = h.parked.commands();
  EXPECT_EQ(sent[1].input, (json{{"sku", "s1"}, {"line", 1}, {"order", "o-1"}}));

  h.finish("bulk-1.lines.1");  // the second ends first
  h.log.wait(id, events::kIterationSucceeded, "lines");
  h.parked.wait_for(2);
  EXPECT_THAT(h.parked_workflows(), ElementsAre("bulk-1.lines.0", "bulk-1.lines.2"));
  h.finish("bulk-1.lines.2");
  h.finish("bulk-1.lines.0");
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  json outputs = json::array({json{{"done", "bulk-1.lines.0"}}, json{{"done", "bulk-1.lines.1"}},
                              json{{"done", "bulk-1.lines.2"}}});
  EXPECT_EQ(h.log.wait(id, events::kStepSucceeded, "lines").data["output"], outputs);
  EXPECT_EQ(h.calls.all().back().action, "svc.done");
  EXPECT_EQ(h.calls.all().back().input["lines"], outputs);
  EXPECT_EQ(h.log.count(id, events::kIterationStarted, "lines"), 3);
}

TEST(Map, NoItemsIsAnEmptyOutput) {
  MapHarness h;
  h.boot();
  std::string id = h.start("bulk", {{"lines", json::array()}});
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.log.wait(id, events::kStepSucceeded, "lines").data["output"], json::array());
}

TEST(Map, ItemsThatAreNoArrayFailTheStep) {
  MapHarness h;
  h.boot();
  std::string id = h.start("bulk", {{"lines", "three"}});
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_THAT(end.data["reason"].get<std::string>(),
              HasSubstr("step 'lines' (map) failed: invalid_argument: items: must be an array, "
                        "not string"));
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "undo.a"));
}

TEST(Map, AFailureWaitsForTheRunningIterationsThenUndoesTheCompletedOnes) {
  MapHarness h(map_step({{"concurrency", 3}}));
  h.boot();
  std::string id = h.start("bulk", {{"lines", lines(4)}}, "bulk-2");
  h.parked.wait_for(3);
  h.parked.reply("work", Error::of(codes::kFailedPrecondition, "no stock"), "bulk-2.lines.1");
  h.log.wait(id, events::kIterationFailed, "lines");
  h.finish("bulk-2.lines.0");
  h.log.wait(id, events::kIterationSucceeded, "lines");
  h.sync();
  EXPECT_EQ(h.log.count(id, events::kStepFailed, "lines"), 0);        // iteration 2 still runs
  EXPECT_EQ(h.log.count(id, events::kIterationStarted, "lines"), 3);  // and 3 never starts
  h.finish("bulk-2.lines.2");
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(end.data["step"], "lines");
  JournalRecord failed = h.log.wait(id, events::kStepFailed, "lines");
  EXPECT_EQ(failed.data["succeeded"], 2);
  EXPECT_EQ(failed.data["failed"], 1);
  EXPECT_THAT(failed.data["reason"].get<std::string>(),
              HasSubstr("step 'lines' (map) failed: iteration 1 (workflow bulk-2.lines.1) "
                        "failed: "));
  JournalRecord undo = h.log.wait(id, events::kCompensationStarted, "lines");
  EXPECT_EQ(undo.data["children"], json::array({"bulk-2.lines.2", "bulk-2.lines.0"}));
  EXPECT_EQ(h.log.wait_settled("bulk-2.lines.2", 2).type, events::kCancelled);
  EXPECT_EQ(h.log.wait_settled("bulk-2.lines.0", 2).type, events::kCancelled);
  // The completed iterations' compensations ran latest first, then the parent's.
  std::vector<std::string> undone;
  for (const Command& c : h.calls.all()) {
    if (c.compensation)
      undone.push_back(c.workflow_id + ":" + c.action);
  }
  EXPECT_THAT(undone,
              ElementsAre("bulk-2.lines.2:undo.work", "bulk-2.lines.0:undo.work", "bulk-2:undo.a"));
  EXPECT_EQ(end.data["compensations"], 2);
}

TEST(Map, CancellingTheWorkflowCancelsTheRunningIterations) {
  MapHarness h;
  h.boot();
  std::string id = h.start("bulk", {{"lines", lines(5)}}, "bulk-3");
  h.parked.wait_for(2);
  ASSERT_TRUE(h.engine->cancel(id, "stop").ok());
  h.log.wait("bulk-3.lines.0", events::kCancelRequested);
  h.log.wait("bulk-3.lines.1", events::kCancelRequested);
  h.finish("bulk-3.lines.0");
  h.parked.reply("work", Error::of(codes::kCancelled, "interrupted"), "bulk-3.lines.1");
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCancelled);
  EXPECT_EQ(h.log.count(id, events::kIterationStarted, "lines"), 2);
  // Iteration 0's last step was in flight and succeeded, so it completed; the map's
  // compensation then undid it.
  EXPECT_EQ(h.log.wait_settled("bulk-3.lines.0").type, events::kCompleted);
  EXPECT_EQ(h.log.wait_settled("bulk-3.lines.0", 2).type, events::kCancelled);
  EXPECT_EQ(h.log.wait_settled("bulk-3.lines.1").type, events::kCancelled);
  EXPECT_THAT(h.calls.actions(),
              ElementsAre("svc.a", "svc.work", "svc.work", "undo.work", "undo.a"));
}

TEST(Map, ARestartGoesOnFromTheJournalWithoutStartingIterationsTwice) {
  MapHarness h(map_step({{"concurrency", 1}}));
  h.boot();
  std::string id = h.start("bulk", {{"lines", lines(3)}}, "bulk-4");
  h.parked.wait_for(1);
  h.finish("bulk-4.lines.0");
  h.log.wait("bulk-4.lines.1", events::kStepStarted, "work");
  h.stop();
  (void)h.parked.take_all();

  h.boot();
  h.parked.wait_for(1);
  EXPECT_THAT(h.parked_workflows(), ElementsAre("bulk-4.lines.1"));
  h.finish("bulk-4.lines.1");
  h.log.wait("bulk-4.lines.2", events::kStepStarted, "work");
  h.finish("bulk-4.lines.2");
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  for (const char* child : {"bulk-4.lines.0", "bulk-4.lines.1", "bulk-4.lines.2"})
    EXPECT_EQ(h.log.count(child, events::kStarted), 1) << child;
  EXPECT_EQ(h.log.count(id, events::kIterationStarted, "lines"), 3);
  auto keys = h.calls.keys("svc.work");
  ASSERT_EQ(keys.size(), 4u);  // iteration 1's command again after the restart, same key
  EXPECT_EQ(keys[1], keys[2]);
  EXPECT_EQ(h.log.wait(id, events::kStepSucceeded, "lines").data["output"].size(), 3u);
}

/// Fails `id` (two lines) at its map: iteration 1 (of `iterations`, the map's run `run`) is
/// refused for good, iteration 0 completes and is undone.
void fail_map(MapHarness& h, const std::string& id, const std::string& iterations, int run) {
  h.parked.wait_for(2);
  ASSERT_THAT(h.parked_workflows(), ElementsAre(iterations + ".0", iterations + ".1"));
  h.parked.reply("work", Error::of(codes::kFailedPrecondition, "no stock"), iterations + ".1");
  h.finish(iterations + ".0");
  ASSERT_EQ(h.log.wait_settled(id, run).type, events::kFailed);
  ASSERT_EQ(h.log.wait_settled(iterations + ".0", 2).type, events::kCancelled);
}

/// Completes `id` through new iterations named `iterations` (run `run`) and checks the map took
/// their outputs and that the iterations of the earlier runs were neither started again nor
/// reused.
void complete_map(MapHarness& h, const std::string& id, const std::string& iterations, int run,
                  const std::vector<std::string>& earlier) {
  h.parked.wait_for(2);
  ASSERT_THAT(h.parked_workflows(), ElementsAre(iterations + ".0", iterations + ".1"));
  for (int i = 0; i < 2; ++i) {
    const std::string child = iterations + "." + std::to_string(i);
    EXPECT_EQ(
        h.log.wait(id, events::kIterationStarted, "lines", 2 * (run - 1) + i + 1).data["child_id"],
        child);
    JournalRecord started = h.log.wait(child, events::kStarted);
    EXPECT_EQ(started.data["parent"], (json{{"workflow_id", id}, {"step", "lines"}}));
    EXPECT_EQ(started.data["index"], i);
    h.finish(child);
  }
  ASSERT_EQ(h.log.wait_settled(id, run).type, events::kCompleted);
  json outputs =
      json::array({json{{"done", iterations + ".0"}}, json{{"done", iterations + ".1"}}});
  EXPECT_EQ(h.log.wait(id, events::kStepSucceeded, "lines").data["output"], outputs);
  EXPECT_EQ(h.calls.all().back().action, "svc.done");
  EXPECT_EQ(h.calls.all().back().input["lines"], outputs);
  EXPECT_EQ(h.log.count(id, events::kIterationStarted, "lines"), 2 * run);
  for (const std::string& old : earlier) {
    for (const char* index : {".0", ".1"})
      EXPECT_EQ(h.log.count(old + index, events::kStarted), 1) << old << index;
    EXPECT_EQ(h.log.count(old + ".0", events::kCompleted), 1) << old;
    EXPECT_EQ(h.log.count(old + ".1", events::kFailed), 1) << old;
    EXPECT_EQ(h.log.count(old + ".1", events::kCompleted), 0) << old;
  }
}

TEST(Map, ARetryAfterAnIterationFailedStartsNewIterations) {
  MapHarness h;
  h.boot();
  std::string id = h.start("bulk", {{"lines", lines(2)}}, "bulk-5");
  fail_map(h, id, "bulk-5.lines", 1);
  ASSERT_TRUE(h.engine->retry(id).ok());
  complete_map(h, id, "bulk-5.lines-r1", 2, {"bulk-5.lines"});
}

TEST(Map, EachRerunFromTheMapStartsNewIterations) {
  MapHarness h;
  h.boot();
  std::string id = h.start("bulk", {{"lines", lines(2)}}, "bulk-6");
  fail_map(h, id, "bulk-6.lines", 1);
  auto rerun = [&] {
    return h.engine->rerun({.workflow_id = id, .step = "lines", .requested_by = "ops"});
  };
  ASSERT_TRUE(rerun().ok());
  fail_map(h, id, "bulk-6.lines-r1", 2);
  ASSERT_TRUE(rerun().ok());
  complete_map(h, id, "bulk-6.lines-r2", 3, {"bulk-6.lines", "bulk-6.lines-r1"});
}

}  // namespace
}  // namespace wonderland::workflow
