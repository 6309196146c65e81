// SettleWaiters: each waiter runs exactly once, when its workflow settles or is decided (its
// pivot succeeded) or when its time is up.
#include "wonderland/mediator/settle_waiters.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace wonderland::mediator {
namespace {

using namespace std::chrono_literals;

/// Counts runs and lets the test wait for them.
struct Runs {
  std::mutex mu;
  std::condition_variable cv;
  int n = 0;
  std::function<void()> callback() {
    return [this] {
      std::lock_guard lock(mu);
      ++n;
      cv.notify_all();
    };
  }
  bool wait_for(int want, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return n >= want; });
  }
  int count() {
    std::lock_guard lock(mu);
    return n;
  }
};

/// Returns once the waiters' thread has run everything that was due when it was called (a
/// probe waiter due now runs after them), so that a waiter that was going to run has run.
void drain(SettleWaiters& waiters) {
  auto probe = std::make_shared<Runs>();
  waiters.wait("drain-probe", 0ms, [probe, run = probe->callback()] { run(); });
  ASSERT_TRUE(probe->wait_for(1));
}

workflow::JournalRecord record(const std::string& id,
                               std::optional<workflow::WorkflowStatus> status,
                               const std::string& type = "x", const std::string& step = "") {
  workflow::JournalRecord r;
  r.workflow_id = id;
  r.seq = 2;
  r.type = type;
  r.step = step;
  r.status = status;
  return r;
}

/// Version 1 of "purchase" has no pivot, version 2 has "fulfil" as its pivot.
const workflow::DefinitionRegistry& registry() {
  static const auto* defs = [] {
    auto* r = new workflow::DefinitionRegistry;
    for (int version : {1, 2}) {
      nlohmann::json doc{{"name", "purchase"},
                         {"version", version},
                         {"steps",
                          {{{"id", "charge"},
                            {"kind", "task"},
                            {"service", "payment"},
                            {"action", "payment.charge"}},
                           {{"id", "fulfil"},
                            {"kind", "task"},
                            {"service", "customer"},
                            {"action", "customer.record"}},
                           {{"id", "announce"}, {"kind", "publish"}, {"topic", "order.done"}}}}};
      if (version == 2)
        doc["pivot"] = "fulfil";
      auto def = workflow::parse_definition(doc, "purchase-v" + std::to_string(version));
      if (!def.ok())
        throw std::runtime_error(def.error().message);
      if (auto added = r->add(def.value()); !added.ok())
        throw std::runtime_error(added.error().message);
    }
    return r;
  }();
  return *defs;
}

void observe(workflow::Observer& observer, const workflow::JournalRecord& r, int version = 1) {
  const std::string definition = "purchase";
  observer(workflow::WorkflowEvent{r, definition, version});
}

TEST(SettleWaiters, ASettledWorkflowWakesItsWaitersOnceAndNoOthers) {
  auto waiters = std::make_shared<SettleWaiters>();
  auto observer = waiters->observer(registry());
  Runs a, b, other;
  waiters->wait("wf-a", 30s, a.callback());
  waiters->wait("wf-a", 30s, b.callback());
  waiters->wait("wf-b", 30s, other.callback());
  EXPECT_EQ(waiters->waiting(), 3u);

  observe(observer, record("wf-a", std::nullopt));                        // not a status change
  observe(observer, record("wf-a", workflow::WorkflowStatus::kRunning));  // still running
  drain(*waiters);
  EXPECT_EQ(a.count(), 0);

  observe(observer, record("wf-a", workflow::WorkflowStatus::kCompleted));
  ASSERT_TRUE(a.wait_for(1));
  ASSERT_TRUE(b.wait_for(1));
  observe(observer, record("wf-a", workflow::WorkflowStatus::kFailed));
  waiters->settle_now("wf-a");
  drain(*waiters);
  EXPECT_EQ(a.count(), 1);
  EXPECT_EQ(b.count(), 1);
  EXPECT_EQ(other.count(), 0);
  EXPECT_EQ(waiters->waiting(), 1u);
}

TEST(SettleWaiters, ThePivotsSuccessWakesTheWaitersOfADecidedWorkflow) {
  auto waiters = std::make_shared<SettleWaiters>();
  auto observer = waiters->observer(registry());
  Runs v1, v2;
  waiters->wait("wf-v1", 30s, v1.callback());
  waiters->wait("wf-v2", 30s, v2.callback());
  // Other steps' successes, and the pivot step of a version without a pivot, answer nothing.
  observe(observer, record("wf-v2", std::nullopt, workflow::events::kStepSucceeded, "charge"), 2);
  observe(observer, record("wf-v2", std::nullopt, workflow::events::kStepFailed, "fulfil"), 2);
  observe(observer, record("wf-v1", std::nullopt, workflow::events::kStepSucceeded, "fulfil"), 1);
  drain(*waiters);
  EXPECT_EQ(v1.count(), 0);
  EXPECT_EQ(v2.count(), 0);

  observe(observer, record("wf-v2", std::nullopt, workflow::events::kStepSucceeded, "fulfil"), 2);
  ASSERT_TRUE(v2.wait_for(1));
  drain(*waiters);
  EXPECT_EQ(v1.count(), 0);
  EXPECT_EQ(v2.count(), 1);
  EXPECT_EQ(waiters->waiting(), 1u);
}

TEST(SettleWaiters, AWaiterRunsOnceWhenItsTimeIsUp) {
  auto waiters = std::make_shared<SettleWaiters>();
  Runs runs;
  const auto t0 = std::chrono::steady_clock::now();
  waiters->wait("wf", 80ms, runs.callback());
  ASSERT_TRUE(runs.wait_for(1));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 80ms);
  EXPECT_EQ(waiters->waiting(), 0u);
  // Settling afterwards does not run it again.
  waiters->settle_now("wf");
  drain(*waiters);
  EXPECT_EQ(runs.count(), 1);
}

TEST(SettleWaiters, SettlingAndTimingOutAtOnceRunEachWaiterOnce) {
  auto waiters = std::make_shared<SettleWaiters>();
  constexpr int kWaiters = 200;
  Runs runs;
  for (int i = 0; i < kWaiters; ++i)
    waiters->wait("wf-" + std::to_string(i % 10), 1ms, runs.callback());
  for (int i = 0; i < 10; ++i)
    waiters->settle_now("wf-" + std::to_string(i));
  ASSERT_TRUE(runs.wait_for(kWaiters));
  drain(*waiters);
  EXPECT_EQ(runs.count(), kWaiters);
  EXPECT_EQ(waiters->waiting(), 0u);
}

TEST(SettleWaiters, TheObserverOutlivesTheWaitersHarmlessly) {
  auto waiters = std::make_shared<SettleWaiters>();
  auto observer = waiters->observer(registry());
  Runs runs;
  waiters->wait("wf", 30s, runs.callback());
  waiters.reset();  // pending waiters are dropped
  observe(observer, record("wf", workflow::WorkflowStatus::kCompleted));
  EXPECT_EQ(runs.count(), 0);
}

}  // namespace
}  // namespace wonderland::mediator
