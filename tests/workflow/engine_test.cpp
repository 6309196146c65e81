// State transitions of the engine: the purchase example, retries, timeouts, compensation,
// parallel and choice steps. In-process services, a manual clock, a SQLite journal.
#include "wonderland/workflow/engine.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "purchase_harness.hpp"
#include "support.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;

std::size_t index_of(const std::vector<std::string>& v, const std::string& item) {
  return static_cast<std::size_t>(std::find(v.begin(), v.end(), item) - v.begin());
}

TEST(Engine, PurchaseCompletes) {
  Harness h;
  ASSERT_NO_FATAL_FAILURE(serve_purchase(h));
  Publications pubs(h.transport);
  h.boot();

  std::string id = h.start("purchase", {{"customer_id", "c-1"}}, "order-1");
  EXPECT_EQ(id, "order-1");
  JournalRecord end = h.log.wait_settled(id);
  ASSERT_EQ(end.type, events::kCompleted) << end.data.dump();
  EXPECT_EQ(end.data["output"]["total_cents"], 3000);
  EXPECT_EQ(end.data["output"]["payment_id"], "p-order-1:charge");
  EXPECT_EQ(end.data["output"]["reservation_id"], "r-order-1:reserve");

  EXPECT_THAT(h.calls.keys("inventory.reserve"), ElementsAre("order-1:reserve"));
  EXPECT_THAT(h.calls.keys("inventory.confirm"), ElementsAre("order-1:fulfil/confirm_stock"));
  auto charge = h.calls.all()[index_of(h.calls.actions(), "payment.charge")];
  EXPECT_EQ(charge.input["amount_cents"], 3000);
  EXPECT_EQ(charge.input["currency"], "EUR");
  EXPECT_EQ(charge.service, "payment");
  EXPECT_EQ(charge.timeout.count(), 10000);
  EXPECT_EQ(h.calls.count("inventory.release"), 0);

  auto confirmed = pubs.on("order.confirmed");
  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].payload["total_cents"], 3000);
  EXPECT_EQ(confirmed[0].idempotency_key, "order-1:announce");
  EXPECT_TRUE(pubs.on("order.failed").empty());

  auto trace = h.log.trace(id);
  ASSERT_GE(trace.size(), 4u);
  EXPECT_EQ(trace[0], "started");
  EXPECT_EQ(trace[1], "step_started(validate)");
  EXPECT_LT(index_of(trace, "step_succeeded(charge)"), index_of(trace, "step_started(fulfil)"));
  for (const char* branch :
       {"fulfil/confirm_stock", "fulfil/record_order", "fulfil/clear_basket"}) {
    EXPECT_LT(index_of(trace, std::string("step_succeeded(") + branch + ")"),
              index_of(trace, "step_succeeded(fulfil)"));
  }
  EXPECT_LT(index_of(trace, "step_succeeded(fulfil)"), index_of(trace, "step_started(announce)"));

  auto summary = h.engine->find(id);
  ASSERT_TRUE(summary.ok() && summary->has_value());
  EXPECT_EQ((*summary)->status, WorkflowStatus::kCompleted);
  EXPECT_EQ((*summary)->definition, "purchase");
  auto timeline = h.engine->timeline(id);
  ASSERT_TRUE(timeline.ok());
  EXPECT_EQ(timeline->size(), trace.size());
  const JournalRecord& reserve = (*timeline)[index_of(trace, "step_started(reserve)")];
  EXPECT_EQ(reserve.data["idempotency_key"], "order-1:reserve");
  EXPECT_EQ(reserve.data["request"]["order_id"], "order-1");
}

// An engine with nothing else to do writes its batch itself (Journal::write_now) instead of
// waking the journal's writer and waiting to be woken; under load batches go through the
// writer's queue and group commit. Either way every record is written once, in order, and
// every effect happens once.
TEST(Engine, WritesItsBatchItselfWhenIdleAndQueuesItUnderLoad) {
  Harness h;
  ASSERT_NO_FATAL_FAILURE(serve_purchase(h));
  Publications pubs(h.transport);
  h.boot();
  std::string first = h.start("purchase", {{"customer_id", "c-1"}}, "order-1");
  ASSERT_EQ(h.log.wait_settled(first).type, events::kCompleted);
  EXPECT_GT(h.journal->stats().written_now, 0u);

  constexpr int kThreads = 4;
  constexpr int kEach = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kEach; ++i)
        h.start("purchase", {{"customer_id", "c"}},
                "o-" + std::to_string(t) + "-" + std::to_string(i));
    });
  }
  for (auto& th : threads)
    th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      std::string id = "o-" + std::to_string(t) + "-" + std::to_string(i);
      ASSERT_EQ(h.log.wait_settled(id).type, events::kCompleted) << id;
      auto timeline = h.engine->timeline(id);
      ASSERT_TRUE(timeline.ok());
      for (std::size_t k = 0; k < timeline->size(); ++k)
        ASSERT_EQ((*timeline)[k].seq, static_cast<std::int64_t>(k + 1)) << id;
    }
  }
  constexpr int kAll = kThreads * kEach + 1;
  EXPECT_EQ(h.calls.count("payment.charge"), kAll);
  EXPECT_EQ(h.calls.count("inventory.confirm"), kAll);
  EXPECT_EQ(pubs.on("order.confirmed").size(), static_cast<std::size_t>(kAll));
  JournalStats s = h.journal->stats();
  EXPECT_LE(s.written_now, s.commits);
}

TEST(Engine, RetriesWithExponentialBackoff) {
  Harness h;
  json a = task("a", "svc.a");
  a["retry"] = {{"max_attempts", 3},
                {"initial_backoff_ms", 100},
                {"multiplier", 2.0},
                {"jitter", 0},
                {"max_backoff_ms", 1000}};
  h.define(workflow("retrying", json::array({a})));
  std::atomic<int> calls{0};
  h.serve("svc.a", [&](const Command&) -> Result<json> {
    if (++calls <= 2)
      return Error::of(codes::kUnavailable, "busy");
    return json{{"ok", true}};
  });
  h.boot();

  std::string id = h.start("retrying");
  JournalRecord first = h.log.wait(id, events::kStepAttemptFailed, "a");
  EXPECT_EQ(first.data["retry_in_ms"], 100);
  EXPECT_EQ(first.data["error"]["code"], "unavailable");
  EXPECT_EQ(h.clock.next_due(), std::chrono::milliseconds(100));
  h.clock.advance(std::chrono::milliseconds(99));
  h.sync();
  EXPECT_EQ(calls.load(), 1);
  h.clock.advance(std::chrono::milliseconds(1));
  JournalRecord second = h.log.wait(id, events::kStepAttemptFailed, "a", 2);
  EXPECT_EQ(second.data["retry_in_ms"], 200);
  EXPECT_EQ(second.attempt, 2);
  h.clock.advance(std::chrono::milliseconds(200));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(calls.load(), 3);
  // Every attempt of the step carries the same idempotency key.
  auto commands = h.calls.all();
  ASSERT_EQ(commands.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(commands[static_cast<std::size_t>(i)].attempt, i + 1);
    EXPECT_EQ(commands[static_cast<std::size_t>(i)].idempotency_key, id + ":a");
  }
  EXPECT_EQ(h.engine->metrics().step_retries, 2u);
}

namespace {
/// A step with 2 attempts for final errors and 10 s for transient ones.
json step_with_transient_budget() {
  json a = task("a", "svc.a");
  a["retry"] = {{"max_attempts", 2},
                {"initial_backoff_ms", 100},
                {"multiplier", 2.0},
                {"max_backoff_ms", 1000},
                {"jitter", 0},
                {"retry_on", {"unavailable", "internal"}},
                {"transient_for_ms", 10000}};
  return a;
}

/// Waits for the `nth` failed attempt of step `a`, then moves the clock to the next retry.
void next_retry(Harness& h, const std::string& id, int nth) {
  testing::next_retry(h, id, "a", nth);
}
}  // namespace

TEST(Engine, TransientErrorsAreRetriedForTheirTimeBudgetBeyondTheAttempts) {
  Harness h;
  h.define(workflow("outage", json::array({step_with_transient_budget()})));
  std::atomic<bool> down{true};
  h.serve("svc.a", [&](const Command&) -> Result<json> {
    if (down)
      return Error::of(codes::kUnavailable, "broker failing over");
    return json{{"ok", true}};
  });
  h.boot();
  std::string id = h.start("outage");
  // 100 + 200 + 400 + 800 + 1000 + 1000 ms: six retries, 3.5 s into a 10 s budget.
  for (int n = 1; n < 6; ++n)
    next_retry(h, id, n);
  // Back before the clock lets the seventh attempt run (see the pivot test).
  h.log.wait(id, events::kStepAttemptFailed, "a", 6);
  EXPECT_EQ(h.log.count(id, events::kStepFailed, "a"), 0);
  down = false;
  next_retry(h, id, 6);
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(h.calls.count("svc.a"), 7);
}

TEST(Engine, TheTransientBudgetRunsOutThenTheStepFails) {
  Harness h;
  h.define(workflow("long_outage", json::array({step_with_transient_budget()})));
  h.serve("svc.a", [](const Command&) -> Result<json> {
    return Error::of(codes::kUnavailable, "down for good");
  });
  h.boot();
  std::string id = h.start("long_outage");
  // Failures up to 9.5 s are retried (100 + 200 + 400 + 800 + 1000 ms...); the 14th attempt,
  // at 10.5 s, is the last.
  for (int n = 1; n <= 13; ++n)
    next_retry(h, id, n);
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(h.calls.count("svc.a"), 14);
  EXPECT_EQ(h.log.count(id, events::kStepAttemptFailed, "a"), 13);
}

TEST(Engine, FinalErrorsStillCountAttemptsUnderATransientBudget) {
  Harness h;
  h.define(workflow("broken", json::array({step_with_transient_budget()})));
  h.serve("svc.a", [](const Command&) -> Result<json> {
    return Error::of(codes::kInternal, "bug in the service");
  });
  h.boot();
  std::string id = h.start("broken");
  next_retry(h, id, 1);
  EXPECT_EQ(h.log.wait_settled(id).type, events::kFailed);
  EXPECT_EQ(h.calls.count("svc.a"), 2);
}

TEST(Engine, NonRetryableErrorFailsAtOnce) {
  Harness h;
  json a = task("a", "svc.a");
  a["retry"] = {{"max_attempts", 5}};
  h.define(workflow("strict", json::array({a})));
  h.serve("svc.a", [](const Command&) -> Result<json> {
    return Error::of(codes::kInvalidArgument, "no such book");
  });
  h.boot();
  std::string id = h.start("strict");
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(end.data["reason"], "step 'a' (svc.a) failed: invalid_argument: no such book");
  EXPECT_EQ(h.calls.count("svc.a"), 1);
}

TEST(Engine, TimeoutsAreRetriedThenFailTheStep) {
  Harness h;
  json b = task("b", "svc.b");
  b["timeout_ms"] = 1000;
  b["retry"] = {{"max_attempts", 2}, {"initial_backoff_ms", 10}, {"jitter", 0}};
  h.define(workflow("slow", json::array({task("a", "svc.a", true), b, task("c", "svc.c")})));
  h.serve_ok("svc.a");
  h.serve_ok("undo.a");
  Parked parked;
  h.transport.on_async("svc.b", parked.handler(&h.calls));
  h.boot();

  std::string id = h.start("slow");
  h.log.wait(id, events::kStepStarted, "b");
  EXPECT_EQ(h.clock.next_due(), std::chrono::milliseconds(1000));
  h.clock.advance(std::chrono::milliseconds(1000));
  JournalRecord timed_out = h.log.wait(id, events::kStepAttemptFailed, "b");
  EXPECT_EQ(timed_out.data["error"]["code"], "deadline_exceeded");
  h.clock.advance(std::chrono::milliseconds(10));
  h.log.wait(id, events::kStepAttempt, "b");
  h.clock.advance(std::chrono::milliseconds(1000));
  JournalRecord failed = h.log.wait(id, events::kStepFailed, "b");
  EXPECT_NE(failed.data["reason"].get<std::string>().find("after 2 attempts: deadline_exceeded"),
            std::string::npos);
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(h.calls.count("undo.a"), 1);
  EXPECT_EQ(h.calls.count("svc.c"), 0);
  EXPECT_THAT(h.calls.keys("svc.b"), ElementsAre(id + ":b", id + ":b"));

  // Late replies to the timed-out attempts change nothing.
  for (auto& done : parked.take_all())
    done(json::object());
  h.sync();
  EXPECT_EQ(h.log.count(id, events::kStepSucceeded, "b"), 0);
  EXPECT_EQ(h.engine->metrics().timeouts, 2u);
}

TEST(Engine, AStepThatTimedOutIsCompensatedFirst) {
  // The charge may have gone through although no answer came: it is undone like a completed
  // step, before the earlier ones.
  Harness h;
  json b = task("b", "svc.b", true);
  b["timeout_ms"] = 1000;
  b["retry"] = {{"max_attempts", 2}, {"initial_backoff_ms", 10}, {"jitter", 0}};
  h.define(workflow("doubt", json::array({task("a", "svc.a", true), b, task("c", "svc.c")})));
  for (const char* action : {"svc.a", "undo.a", "undo.b"})
    h.serve_ok(action);
  Parked parked;
  h.transport.on_async("svc.b", parked.handler(&h.calls));
  h.boot();

  std::string id = h.start("doubt");
  h.log.wait(id, events::kStepStarted, "b");
  h.clock.advance(std::chrono::milliseconds(1000));
  h.log.wait(id, events::kStepAttemptFailed, "b");
  h.clock.advance(std::chrono::milliseconds(10));
  h.log.wait(id, events::kStepAttempt, "b");
  h.clock.advance(std::chrono::milliseconds(1000));
  JournalRecord failed = h.log.wait(id, events::kStepFailed, "b");
  EXPECT_EQ(failed.data["in_doubt"], true);
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(end.data["compensations"], 2);
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.b", "svc.b", "undo.b", "undo.a"));
  EXPECT_THAT(h.calls.keys("undo.b"), ElementsAre(id + ":b:compensate"));
}

TEST(Engine, CompensatesCompletedStepsInReverseOrder) {
  Harness h;
  h.define(workflow(
      "saga", json::array({task("a", "svc.a", true), task("b", "svc.b", true), task("c", "svc.c"),
                           task("d", "svc.d", true), task("e", "svc.e", true)})));
  for (const char* action : {"svc.a", "svc.b", "svc.c", "svc.d", "undo.a", "undo.b", "undo.d"}) {
    h.serve_ok(action);
  }
  h.serve("svc.e", [](const Command&) -> Result<json> {
    return Error::of(codes::kFailedPrecondition, "out of stock");
  });
  Publications pubs(h.transport);
  h.boot();

  std::string id = h.start("saga");
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  const std::string reason = "step 'e' (svc.e) failed: failed_precondition: out of stock";
  EXPECT_EQ(end.data["reason"], reason);
  EXPECT_EQ(end.data["compensations"], 3);
  EXPECT_THAT(h.calls.actions(), ElementsAre("svc.a", "svc.b", "svc.c", "svc.d", "svc.e", "undo.d",
                                             "undo.b", "undo.a"));
  EXPECT_THAT(h.calls.keys("undo.d"), ElementsAre(id + ":d:compensate"));
  auto failed = pubs.on("saga.failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].payload["reason"], reason);
  EXPECT_EQ(failed[0].payload["code"], "failed_precondition");
  EXPECT_EQ(failed[0].payload["cancelled"], false);
  auto summary = h.engine->find(id);
  EXPECT_EQ((*summary)->status, WorkflowStatus::kFailed);
  EXPECT_EQ((*summary)->reason, reason);
  auto trace = h.log.trace(id);
  EXPECT_LT(index_of(trace, "compensating"), index_of(trace, "compensation_started(d)"));
  EXPECT_LT(index_of(trace, "compensation_succeeded(a)"),
            index_of(trace, "step_started(on_failure/tell)"));
}

TEST(Engine, ParallelJoinsAllBranches) {
  Harness h;
  json par = {{"id", "p"},
              {"kind", "parallel"},
              {"branches", json::array({json::array({task("b1", "svc.b1")}),
                                        json::array({task("b2", "svc.b2"), task("b2x", "svc.b2x")}),
                                        json::array({task("b3", "svc.b3")})})}};
  h.define(workflow("fan", json::array({task("a", "svc.a"), par, task("z", "svc.z")})));
  for (const char* action : {"svc.a", "svc.b2", "svc.b2x", "svc.z"})
    h.serve_ok(action);
  Parked parked;
  h.transport.on_async("svc.b1", parked.handler());
  h.transport.on_async("svc.b3", parked.handler());
  h.boot();

  std::string id = h.start("fan");
  h.log.wait(id, events::kStepSucceeded, "p/b2x");
  parked.wait_for(2);
  parked.reply("p/b3", json{{"n", 3}});
  h.log.wait(id, events::kStepSucceeded, "p/b3");
  h.sync();
  EXPECT_EQ(h.calls.count("svc.z"), 0);
  parked.reply("p/b1", json{{"n", 1}});
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  auto trace = h.log.trace(id);
  EXPECT_LT(index_of(trace, "step_succeeded(p/b1)"), index_of(trace, "step_succeeded(p)"));
  EXPECT_LT(index_of(trace, "step_succeeded(p)"), index_of(trace, "step_started(z)"));
}

TEST(Engine, ParallelFailureLetsSiblingsFinishThenCompensatesAll) {
  Harness h;
  json par = {
      {"id", "p"},
      {"kind", "parallel"},
      {"branches",
       json::array({json::array({task("b1", "svc.b1", true)}),
                    json::array({task("b2", "svc.b2", true)}),
                    json::array({task("b3", "svc.b3", true), task("b4", "svc.b4", true)})})}};
  h.define(workflow("fanfail", json::array({task("a", "svc.a", true), par, task("z", "svc.z")})));
  for (const char* action : {"svc.a", "svc.b4", "svc.z", "undo.a", "undo.b1", "undo.b3"}) {
    h.serve_ok(action);
  }
  h.serve("svc.b2", [](const Command&) -> Result<json> {
    return Error::of(codes::kFailedPrecondition, "card declined");
  });
  Parked parked;
  h.transport.on_async("svc.b1", parked.handler(&h.calls));
  h.transport.on_async("svc.b3", parked.handler(&h.calls));
  h.boot();

  std::string id = h.start("fanfail");
  h.log.wait(id, events::kStepFailed, "p/b2");
  parked.wait_for(2);
  h.sync();
  EXPECT_EQ(h.log.count(id, events::kCompensating), 0);  // siblings are still running
  parked.reply("p/b3", json::object());
  h.log.wait(id, events::kStepSucceeded, "p/b3");
  parked.reply("p/b1", json::object());
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_EQ(end.data["reason"], "step 'b2' (svc.b2) failed: failed_precondition: card declined");
  EXPECT_EQ(h.calls.count("svc.b4"), 0);  // nothing new starts once a branch failed
  EXPECT_EQ(h.calls.count("svc.z"), 0);
  // Completed a, b3, b1 (in that order): undone b1, b3, a.
  auto actions = h.calls.actions();
  std::vector<std::string> undo;
  std::copy_if(actions.begin(), actions.end(), std::back_inserter(undo),
               [](const std::string& a) { return a.starts_with("undo."); });
  EXPECT_THAT(undo, ElementsAre("undo.b1", "undo.b3", "undo.a"));
}

TEST(Engine, ChoiceRunsTheMatchingBranch) {
  Harness h;
  json a = task("a", "svc.a");
  a["input"] = {{"total", "${input.total}"}};
  json choice = {
      {"id", "route"},
      {"kind", "choice"},
      {"on", "${steps.a.output.total}"},
      {"cases", json::array({{{"equals", 0}, {"steps", json::array({task("free", "svc.free")})}},
                             {{"greater_than", 100},
                              {"steps", json::array({task("review", "svc.review")})}}})},
      {"default", json::array({task("normal", "svc.normal")})}};
  h.define(workflow("router", json::array({a, choice, task("end", "svc.end")})));
  h.serve("svc.a", [](const Command& c) -> Result<json> {
    return json{{"total", c.input["total"]}};
  });
  for (const char* action : {"svc.free", "svc.review", "svc.normal", "svc.end"})
    h.serve_ok(action);
  h.boot();

  std::map<int, std::string> expected{{0, "svc.free"}, {500, "svc.review"}, {50, "svc.normal"}};
  std::map<int, int> cases{{0, 0}, {500, 1}, {50, -1}};
  for (const auto& [total, action] : expected) {
    std::string id = h.start("router", {{"total", total}});
    EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
    EXPECT_EQ(h.log.wait(id, events::kStepStarted, "route").data["case"], cases[total]);
    std::vector<std::string> ran;
    for (const auto& c : h.calls.all()) {
      if (c.workflow_id == id)
        ran.push_back(c.action);
    }
    EXPECT_THAT(ran, ElementsAre("svc.a", action, "svc.end")) << total;
  }
}

TEST(Engine, PublishFailuresAreRetried) {
  Harness h;
  json pub = {{"id", "announce"},
              {"kind", "publish"},
              {"topic", "x.done"},
              {"input", {{"id", "${workflow.id}"}}},
              {"retry", {{"max_attempts", 3}, {"initial_backoff_ms", 50}, {"jitter", 0}}}};
  h.define(workflow("pub", json::array({task("a", "svc.a"), pub})));
  h.serve_ok("svc.a");
  Publications pubs(h.transport);
  h.transport.fail_publications(Error::of(codes::kUnavailable, "broker down"));
  h.boot();
  std::string id = h.start("pub");
  h.log.wait(id, events::kStepAttemptFailed, "announce");
  h.transport.fail_publications(std::nullopt);
  h.clock.advance(std::chrono::milliseconds(50));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  auto done = pubs.on("x.done");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].idempotency_key, id + ":announce");
  EXPECT_EQ(done[0].attempt, 2);
}

TEST(Engine, TemplateErrorFailsTheStepWithoutSending) {
  Harness h;
  json b = task("b", "svc.b");
  b["input"] = {{"needs", "${input.missing}"}};
  h.define(workflow("broken", json::array({task("a", "svc.a", true), b})));
  h.serve_ok("svc.a");
  h.serve_ok("undo.a");
  h.boot();
  std::string id = h.start("broken");
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_NE(end.data["reason"].get<std::string>().find("${input.missing}"), std::string::npos);
  EXPECT_EQ(h.calls.count("svc.b"), 0);
  EXPECT_EQ(h.calls.count("undo.a"), 1);
}

}  // namespace
}  // namespace wonderland::workflow
