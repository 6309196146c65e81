// Operator requests and bookkeeping: cancel, retry, compensation failure, start errors,
// definition versions, metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "purchase_harness.hpp"
#include "support.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;

TEST(Cancel, WaitsForTheCommandInFlightThenCompensates) {
  Harness h;
  h.define(workflow("order", json::array({task("a", "svc.a", true), task("b", "svc.b", true),
                                          task("c", "svc.c")})));
  for (const char* action : {"svc.a", "svc.c", "undo.a", "undo.b"})
    h.serve_ok(action);
  Parked parked;
  h.transport.on_async("svc.b", parked.handler(&h.calls));
  Publications pubs(h.transport);
  h.boot();

  std::string id = h.start("order");
  parked.wait_for(1);
  ASSERT_TRUE(h.engine->cancel(id, "changed my mind").ok());
  h.sync();
  EXPECT_EQ(h.log.count(id, events::kCompensating), 0);  // b's outcome is not known yet
  parked.reply("b", json::object());                     // b did happen: it is undone too
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kCancelled);
  EXPECT_EQ(end.data["reason"], "cancelled: changed my mind");
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.b", "undo.b", "undo.a"));
  auto told = pubs.on("order.failed");
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].payload["code"], "cancelled");
  EXPECT_EQ(told[0].payload["cancelled"], true);
  EXPECT_EQ((*h.engine->find(id))->status, WorkflowStatus::kCancelled);

  auto again = h.engine->cancel(id, "again");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, codes::kFailedPrecondition);
  EXPECT_EQ(h.engine->cancel("nobody", "x").error().code, codes::kNotFound);
}

TEST(Cancel, StopsAStepWaitingToRetry) {
  Harness h;
  json b = task("b", "svc.b", true);
  b["retry"] = {
      {"max_attempts", 5}, {"initial_backoff_ms", 60000}, {"max_backoff_ms", 60000}, {"jitter", 0}};
  h.define(workflow("order", json::array({task("a", "svc.a", true), b})));
  h.serve_ok("svc.a");
  h.serve_ok("undo.a");
  h.serve_ok("undo.b");
  h.serve("svc.b",
          [](const Command&) -> Result<json> { return Error::of(codes::kUnavailable, "down"); });
  h.boot();
  std::string id = h.start("order");
  h.log.wait(id, events::kStepAttemptFailed, "b");
  ASSERT_TRUE(h.engine->cancel(id, "").ok());
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kCancelled);
  EXPECT_EQ(end.data["reason"], "cancelled");
  JournalRecord stopped = h.log.wait(id, events::kStepFailed, "b");
  EXPECT_NE(stopped.data["reason"].get<std::string>().find("stopped retrying"), std::string::npos);
  EXPECT_EQ(h.calls.count("svc.b"), 1);
  EXPECT_EQ(stopped.data["in_doubt"], true);
  // b's one attempt ended "unavailable": it may have taken effect, so it is undone, first.
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.b", "undo.b", "undo.a"));
  EXPECT_EQ(h.clock.pending(), 0u);  // its retry timer is gone
}

TEST(Retry, ResumesFromTheFirstUndoneStep) {
  Harness h;
  ASSERT_NO_FATAL_FAILURE(serve_purchase(h));
  std::atomic<bool> decline{true};
  h.serve("payment.charge", [&](const Command& c) -> Result<json> {
    if (decline)
      return Error::of(codes::kFailedPrecondition, "card declined");
    return json{{"payment_id", "p-" + c.idempotency_key}};
  });
  Publications pubs(h.transport);
  h.boot();

  std::string id = h.start("purchase", {{"customer_id", "c-7"}}, "order-7");
  JournalRecord failed = h.log.wait_settled(id);
  ASSERT_EQ(failed.type, events::kFailed);
  EXPECT_EQ(failed.data["reason"],
            "step 'charge' (payment.charge) failed: failed_precondition: card declined");
  EXPECT_EQ(h.calls.count("inventory.release"), 1);
  ASSERT_EQ(pubs.on("order.failed").size(), 1u);
  EXPECT_EQ(pubs.on("order.failed")[0].payload["failed_step"], "charge");

  decline = false;
  ASSERT_TRUE(h.engine->retry(id).ok());
  JournalRecord done = h.log.wait_settled(id, 2);
  ASSERT_EQ(done.type, events::kCompleted) << done.data.dump();
  // validate and price stand; reserve was undone and charge got a final answer: both run
  // again under new keys.
  EXPECT_EQ(h.calls.count("customer.validate"), 1);
  EXPECT_EQ(h.calls.count("inventory.price"), 1);
  EXPECT_THAT(h.calls.keys("inventory.reserve"),
              ElementsAre("order-7:reserve", "order-7:reserve#1"));
  EXPECT_THAT(h.calls.keys("payment.charge"), ElementsAre("order-7:charge", "order-7:charge#1"));
  EXPECT_EQ(done.data["output"]["reservation_id"], "r-order-7:reserve#1");
  EXPECT_EQ(pubs.on("order.confirmed").size(), 1u);
  EXPECT_EQ((*h.engine->find(id))->status, WorkflowStatus::kCompleted);
  EXPECT_EQ(h.log.count(id, events::kRetryRequested), 1);
  EXPECT_EQ(h.log.wait(id, events::kRetryRequested).data["run"], 1);
}

TEST(Retry, OnlyFailedOrNeedsAttention) {
  Harness h;
  h.define(workflow("simple", json::array({task("a", "svc.a")})));
  h.serve_ok("svc.a");
  h.boot();
  std::string id = h.start("simple");
  h.log.wait_settled(id);
  auto st = h.engine->retry(id);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, codes::kFailedPrecondition);
  EXPECT_EQ(h.engine->retry("nobody").error().code, codes::kNotFound);
}

TEST(Compensation, ExhaustedRetriesNeedAttentionThenOperatorRetry) {
  Harness h;
  h.define(workflow("stuck", json::array({task("a", "svc.a", true), task("b", "svc.b")})));
  h.serve_ok("svc.a");
  h.serve("svc.b",
          [](const Command&) -> Result<json> { return Error::of(codes::kInvalidArgument, "bad"); });
  std::atomic<bool> broken{true};
  h.serve("undo.a", [&](const Command&) -> Result<json> {
    if (broken)
      return Error::of(codes::kUnavailable, "inventory down");
    return json::object();
  });
  EngineOptions options;
  options.compensation_retry = {.max_attempts = 3,
                                .initial_backoff = std::chrono::milliseconds(10),
                                .max_backoff = std::chrono::milliseconds(10),
                                .multiplier = 1.0,
                                .jitter = 0.0};
  h.boot(options);

  std::string id = h.start("stuck");
  h.log.wait(id, events::kCompensationAttemptFailed, "a");
  h.clock.advance(std::chrono::milliseconds(10));
  h.log.wait(id, events::kCompensationAttemptFailed, "a", 2);
  h.clock.advance(std::chrono::milliseconds(10));
  JournalRecord end = h.log.wait_settled(id);
  ASSERT_EQ(end.type, events::kNeedsAttention);
  std::string reason = end.data["reason"];
  EXPECT_NE(reason.find("compensation of step 'a' (undo.a) failed after 3 attempts"),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("while undoing: step 'b' (svc.b) failed"), std::string::npos) << reason;
  EXPECT_EQ((*h.engine->find(id))->status, WorkflowStatus::kNeedsAttention);
  EXPECT_EQ(h.log.count(id, events::kStepStarted, "on_failure/tell"), 0);
  EXPECT_EQ(h.engine->metrics().awaiting_attention, 1);
  // The gauge is counted from the journal when an engine starts.
  h.stop();
  h.boot(options);
  EXPECT_EQ(h.engine->metrics().awaiting_attention, 1);

  broken = false;
  ASSERT_TRUE(h.engine->retry(id).ok());
  JournalRecord after = h.log.wait_settled(id, 2);
  EXPECT_EQ(after.type, events::kFailed);
  // The error was transient, so the compensation keeps its key.
  auto keys = h.calls.keys("undo.a");
  ASSERT_EQ(keys.size(), 4u);
  for (const auto& k : keys)
    EXPECT_EQ(k, id + ":a:compensate");
  EXPECT_EQ(h.engine->metrics().needs_attention, 0u);  // counted by this engine, since its start
  EXPECT_EQ(h.engine->metrics().awaiting_attention, 0);
}

TEST(Start, ErrorsAndDurability) {
  Harness h;
  h.define(workflow("simple", json::array({task("a", "svc.a")})));
  Parked parked;
  h.transport.on_async("svc.a", parked.handler());
  h.boot();

  auto unknown = h.engine->start(StartRequest{.definition = "nope"});
  EXPECT_EQ(unknown.error().code, codes::kNotFound);
  auto bad_input = h.engine->start(StartRequest{.definition = "simple", .input = json::array()});
  EXPECT_EQ(bad_input.error().code, codes::kInvalidArgument);
  auto bad_id = h.engine->start(StartRequest{.definition = "simple", .id = "a:b"});
  EXPECT_EQ(bad_id.error().code, codes::kInvalidArgument);

  std::string id = h.start("simple", json::object(), "order-42");
  // start() returned: the workflow is in the journal already.
  auto found = h.journal->find(id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->status, WorkflowStatus::kRunning);
  auto dup = h.engine->start(StartRequest{.definition = "simple", .id = "order-42"});
  EXPECT_EQ(dup.error().code, codes::kConflict);
  parked.wait_for(1);
  parked.reply("a", json::object());
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  auto dup_after = h.engine->start(StartRequest{.definition = "simple", .id = "order-42"});
  EXPECT_EQ(dup_after.error().code, codes::kConflict);
}

TEST(Versions, RunningWorkflowKeepsItsVersion) {
  Harness h;
  h.define(workflow("flow", json::array({task("a", "svc.a"), task("b", "svc.b")}), 1));
  Parked parked;
  h.transport.on_async("svc.a", parked.handler());
  h.serve_ok("svc.b");
  h.serve_ok("svc.c");
  h.boot();
  std::string old_run = h.start("flow");
  parked.wait_for(1);
  h.define(workflow("flow", json::array({task("a", "svc.a"), task("c", "svc.c")}), 2));
  std::string new_run = h.start("flow");
  parked.wait_for(2);
  parked.reply("a", json::object());
  parked.reply("a", json::object());
  EXPECT_EQ(h.log.wait_settled(old_run).type, events::kCompleted);
  EXPECT_EQ(h.log.wait_settled(new_run).type, events::kCompleted);
  EXPECT_EQ(h.log.count(old_run, events::kStepSucceeded, "b"), 1);
  EXPECT_EQ(h.log.count(new_run, events::kStepSucceeded, "c"), 1);
  EXPECT_EQ((*h.engine->find(old_run))->version, 1);
  EXPECT_EQ((*h.engine->find(new_run))->version, 2);
  auto pinned = h.engine->start(StartRequest{.definition = "flow", .version = 1});
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ((*h.engine->find(*pinned))->version, 1);
}

TEST(Output, UnrenderableOutputFailsTheWorkflow) {
  Harness h;
  json doc = workflow("out", json::array({task("a", "svc.a", true)}));
  doc["output"] = {{"x", "${steps.a.output.missing}"}};
  h.define(doc);
  h.serve_ok("svc.a");
  h.serve_ok("undo.a");
  h.boot();
  std::string id = h.start("out");
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_NE(end.data["reason"].get<std::string>().find("workflow output"), std::string::npos);
  EXPECT_EQ(h.calls.count("undo.a"), 1);
}

TEST(Metrics, CountersGaugeAndLatency) {
  Harness h;
  h.define(workflow("ok", json::array({task("a", "svc.a")})));
  h.define(workflow("ko", json::array({task("a", "svc.a", true), task("b", "svc.b")})));
  h.serve_ok("svc.a");
  h.serve_ok("undo.a");
  h.serve("svc.b",
          [](const Command&) -> Result<json> { return Error::of(codes::kInvalidArgument, "no"); });
  h.boot();
  h.log.wait_settled(h.start("ok"));
  h.log.wait_settled(h.start("ko"));
  EngineMetrics m = h.engine->metrics();
  EXPECT_EQ(m.started, 2u);
  EXPECT_EQ(m.completed, 1u);
  EXPECT_EQ(m.failed, 1u);
  EXPECT_EQ(m.compensated, 1u);
  EXPECT_EQ(m.compensations, 1u);
  EXPECT_EQ(m.in_flight, 0);
  EXPECT_EQ(m.step_attempts, 4u);  // a, a, b and the failure publication
  bool saw = false;
  for (const LatencyStats& s : m.step_latency) {
    if (s.service == "svc" && s.action == "svc.a") {
      saw = true;
      EXPECT_EQ(s.count, 2u);
      EXPECT_EQ(s.recent_ms.size(), 2u);
      EXPECT_EQ(s.quantile(0.5), 0.0);  // the manual clock does not move
    }
    if (s.action == "svc.b") {
      EXPECT_EQ(s.errors, 1u);
    }
  }
  EXPECT_TRUE(saw);

  auto page = h.engine->list(WorkflowQuery{.status = WorkflowStatus::kFailed});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].definition, "ko");
}

/// A transport whose send() throws for one action.
class ThrowingTransport final : public Transport {
 public:
  explicit ThrowingTransport(InProcessTransport& inner) : inner_(inner) {}
  void send(Command command, ReplyCallback done) override {
    if (command.action == "svc.boom")
      throw std::runtime_error("socket closed");
    inner_.send(std::move(command), std::move(done));
  }
  void publish(Publication publication, PublishCallback done) override {
    inner_.publish(std::move(publication), std::move(done));
  }

 private:
  InProcessTransport& inner_;
};

TEST(Robustness, ThrowingTransportAndObserverDoNotStopTheEngine) {
  Harness h;
  json boom = task("b", "svc.boom");
  boom["retry"] = {{"max_attempts", 1}};
  h.define(workflow("fragile", json::array({task("a", "svc.a", true), boom})));
  h.serve_ok("svc.a");
  h.serve_ok("undo.a");
  ThrowingTransport transport(h.transport);
  EngineOptions options;
  options.observers.push_back(
      [](const WorkflowEvent&) { throw std::runtime_error("observer bug"); });
  options.observers.push_back(h.log.observer());
  h.journal = open_sqlite_journal({.path = h.journal_path()}).value();
  auto engine = Engine::create(options, h.registry, *h.journal, transport, h.clock).value();
  auto id = engine->start(StartRequest{.definition = "fragile"});
  ASSERT_TRUE(id.ok());
  JournalRecord end = h.log.wait_settled(*id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_NE(
      end.data["reason"].get<std::string>().find("unavailable: transport failed: socket closed"),
      std::string::npos);
  EXPECT_EQ(h.calls.count("undo.a"), 1);
  EXPECT_TRUE(engine->healthy());
}

}  // namespace
}  // namespace wonderland::workflow
