// Crash recovery of the wonderland-mediator binary: 200 five-step workflows are started through
// the operator API while the mediator is killed with SIGKILL at random moments and restarted on
// the same journal. In the end every workflow has reached a correct end with exactly one
// terminal record (completed, or failed with every step that succeeded or ended in doubt
// compensated), and at the worker every effect happened exactly once, although commands were
// delivered more than once.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "support.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/scoped_env.hpp"

namespace wonderland::mediator_test {
namespace {

constexpr int kWorkflows = 200;
constexpr int kCrashes = 6;

const std::vector<std::string> kSteps{"reserve", "charge", "fulfil/ship", "fulfil/record",
                                      "confirm"};

/// What a workflow is told to do, and so how it must end.
struct Plan {
  std::string id;
  json input;
  std::string fails_at;  ///< The step that refuses for good ("" when it completes).
};

Plan make_plan(int i, std::mt19937& rng) {
  Plan p;
  p.id = "crash-" + std::to_string(i) + "-" + new_uuid().substr(0, 8);
  json input{{"customer", "c-" + std::to_string(i)}};
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  // Slow steps keep commands in flight when the mediator dies.
  json slow = json::object();
  for (const char* s : {"reserve", "charge", "ship", "record", "confirm"}) {
    if (pick(3) == 0)
      slow[s] = 50 + pick(250);
  }
  input["slow_ms"] = slow;
  if (pick(4) == 0)
    input["fail_times"] = {{pick(2) == 0 ? "charge" : "ship", 1 + pick(2)}};
  switch (pick(5)) {
    case 0:
      input["fail_runs"] = {{"confirm", 1}};
      p.fails_at = "confirm";
      break;
    case 1:
      input["fail_runs"] = {{"record", 1}};
      p.fails_at = "fulfil/record";
      break;
    default:
      break;
  }
  if (!p.fails_at.empty()) {
    // Slow and failing compensations keep workflows compensating when the mediator dies.
    json comp_slow = json::object();
    for (const char* s : {"reserve", "charge", "ship", "record"}) {
      if (pick(2) == 0)
        comp_slow[s] = 50 + pick(250);
    }
    input["comp_slow_ms"] = comp_slow;
    if (pick(3) == 0)
      input["comp_fail_times"] = {{pick(2) == 0 ? "reserve" : "charge", 1}};
  }
  p.input = std::move(input);
  return p;
}

TEST(MediatorCrashRecovery, EveryWorkflowEndsOnceAndEveryEffectHappensOnce) {
  const auto begin = std::chrono::steady_clock::now();
  Harness h("crash");
  h.start_worker();
  h.start_mediator();
  std::mt19937 rng(std::random_device{}());
  std::vector<Plan> plans;
  for (int i = 0; i < kWorkflows; ++i)
    plans.push_back(make_plan(i, rng));

  // Every delivery the worker has seen so far: the system's progress, which paces the starts
  // and the kills.
  auto delivered = [&h] {
    std::int64_t n = 0;
    for (const auto& [key, count] : h.deliveries())
      n += count;
    return n;
  };
  // Waits (boundedly) until the worker has seen `more` further deliveries.
  auto progress = [&delivered](std::int64_t more, std::chrono::milliseconds limit) {
    const std::int64_t target = delivered() + more;
    testing::eventually([&] { return delivered() >= target; }, limit);
  };

  // Starts are spread over the crash rounds, a few deliveries apart; a start whose answer was
  // lost to a crash is sent again with the same id after the restart, and then either starts or
  // finds it (409).
  std::atomic<std::size_t> next{0};
  std::mt19937 pace(rng());  // the starter's own
  auto start_some = [&](std::size_t n, bool paced) {
    for (std::size_t k = 0; k < n && next < plans.size();) {
      const Plan& p = plans[next];
      int status = 0;
      try {
        status = h.start("test_five_step", p.input, p.id).status;
      } catch (const std::exception&) {
        return;  // the mediator is down
      }
      ASSERT_TRUE(status == 202 || status == 409) << p.id << ": " << status;
      ++next;
      ++k;
      if (paced)
        progress(static_cast<std::int64_t>(pace() % 3), std::chrono::seconds(1));
    }
  };
  // How many workflows a freshly started mediator resumed from the journal.
  auto recovered = [&] {
    auto r = h.get("/api/metrics", h.token());
    return r.status == 200 ? r.json()["workflows"].value("recovered", 0) : -1;
  };

  int crashes_in_flight = 0;  // crashes after which the new mediator resumed workflows
  for (int crash = 0; crash < kCrashes; ++crash) {
    // Start a share of the workflows from another thread and kill the mediator once a random
    // part of them has started and the worker has seen a random number of further deliveries
    // (or a few seconds have passed): the kill lands in the middle of starts,
    // steps, retries and compensations of this round's and earlier rounds' workflows alike,
    // with the latest ones surely in flight.
    const std::size_t first = next;
    const std::size_t share =
        (plans.size() - first) / static_cast<std::size_t>(kCrashes - crash + 1) + 1;
    const std::size_t kill_after = 1 + rng() % share;
    std::atomic<bool> done{false};
    std::jthread starter([&] {  // joined on an exception too, which then shows
      start_some(share, true);
      done = true;
    });
    testing::eventually([&] { return done || next - first >= kill_after; },
                        std::chrono::seconds(30));
    progress(static_cast<std::int64_t>(rng() % 20), std::chrono::seconds(3));
    h.kill_mediator();
    starter.join();
    h.start_mediator();
    const int resumed_now = recovered();
    crashes_in_flight += resumed_now > 0 ? 1 : 0;
    std::printf("crash %d: killed after %zu of %zu starts of the round, %d workflow(s) resumed\n",
                crash + 1, static_cast<std::size_t>(next) - first, share, resumed_now);
    std::fflush(stdout);
  }
  start_some(plans.size(), false);
  ASSERT_EQ(next, plans.size());
  EXPECT_GE(crashes_in_flight, 5) << "too few crashes landed while workflows were in flight";

  // Every workflow settles.
  for (const Plan& p : plans) {
    json view = h.wait_settled(p.id, std::chrono::seconds(60));
    ASSERT_FALSE(view.is_null()) << p.id << " did not settle: " << h.workflow(p.id).dump(2)
                                 << h.mediator_log();
  }
  // Let late duplicate deliveries finish at the worker before counting.
  ASSERT_EQ(h.stop_mediator(), 0) << h.mediator_log();
  ASSERT_EQ(h.stop_worker(), 0) << h.worker_log();

  std::map<std::string, int> effect_count;
  for (const Effect& e : h.effects())
    ++effect_count[e.key];
  std::int64_t redelivered_keys = 0;
  std::int64_t deliveries = 0;
  for (const auto& [key, n] : h.deliveries()) {
    redelivered_keys += n > 1 ? 1 : 0;
    deliveries += n;
  }
  std::set<std::string> refused;  // keys the worker refused for good (recorded, not applied)
  for (const Plan& p : plans) {
    if (!p.fails_at.empty())
      refused.insert(p.id + ":" + p.fails_at);
  }
  std::int64_t suppressed = 0;
  for (const auto& [key, n] : h.suppressed()) {
    suppressed += n;
    // A duplicate is answered from the store only after the effect, or a final refusal, was
    // recorded under its key.
    EXPECT_TRUE(effect_count.count(key) != 0 || refused.count(key) != 0) << key;
  }
  // Crashes re-sent commands in flight: the worker saw duplicates and did not act on them.
  EXPECT_GT(suppressed, 0) << "no duplicate delivery reached the worker";
  // To read the journal through the operator API; the worker is gone, so readiness must not
  // wait for its consumer.
  h.set_mediator_env(0, "WONDERLAND_READYZ_REQUIRE_CONSUMERS", "0");
  h.start_mediator();

  int completed = 0;
  int failed = 0;
  int resumed = 0;               // workflows that a restarted mediator picked up in flight
  int resumed_compensating = 0;  // of which while compensating
  int uncertain = 0;             // effects of steps that gave up on retryable errors (see below)
  std::set<std::string> expected_keys;
  std::set<std::string> allowed_keys;
  for (const Plan& p : plans) {
    json view = h.workflow(p.id);
    ASSERT_FALSE(view.is_null()) << p.id;
    int terminal = 0;
    bool was_resumed = false;
    bool was_resumed_compensating = false;
    bool compensating = false;
    std::set<std::string> succeeded;    // task steps that succeeded
    std::set<std::string> compensated;  // and whose compensation succeeded
    std::set<std::string> gave_up;      // task steps that failed on a retryable error
    std::set<std::string> in_doubt;     // of which the engine compensates (when it marks them)
    for (const json& r : view["timeline"]) {
      const std::string type = r.value("type", "");
      const std::string step = r.value("step", "");
      terminal += is_terminal(r) ? 1 : 0;
      was_resumed = was_resumed || type == "resumed";
      compensating = compensating || type == "compensating";
      was_resumed_compensating = was_resumed_compensating || (compensating && type == "resumed");
      if (std::find(kSteps.begin(), kSteps.end(), step) == kSteps.end())
        continue;
      if (type == "step_succeeded")
        succeeded.insert(step);
      if (type == "compensation_succeeded")
        compensated.insert(step);
      if (type == "step_failed" && r["data"]["error"].value("retryable", false))
        gave_up.insert(step);
      if (type == "step_failed" && r["data"].value("in_doubt", false))
        in_doubt.insert(step);
    }
    resumed += was_resumed ? 1 : 0;
    resumed_compensating += was_resumed_compensating ? 1 : 0;
    EXPECT_EQ(terminal, 1) << p.id << "\n" << view.dump(2);
    for (const auto& s : succeeded)
      expected_keys.insert(p.id + ":" + s);
    for (const auto& s : compensated)
      expected_keys.insert(p.id + ":" + s + ":compensate");
    // A step that stopped retrying after retryable errors (because another step failed for
    // good meanwhile) has an uncertain outcome: one of its commands may still have taken effect.
    // Its effect may exist, once, and the engine compensates it as in doubt (docs/workflows.md).
    for (const auto& s : gave_up)
      allowed_keys.insert(p.id + ":" + s);
    for (const auto& s : in_doubt)
      allowed_keys.insert(p.id + ":" + s);
    const std::string status = view.value("status", "");
    if (p.fails_at.empty()) {
      EXPECT_EQ(status, "completed") << p.id << "\n" << view.dump(2);
      EXPECT_EQ(succeeded.size(), kSteps.size()) << p.id;
      ++completed;
      continue;
    }
    EXPECT_EQ(status, "failed") << p.id << "\n" << view.dump(2);
    ++failed;
    EXPECT_NE(view.value("reason", "").find("failed_precondition"), std::string::npos) << p.id;
    // Failed with compensations done: every step that succeeded (or ended in doubt) was undone.
    std::set<std::string> to_undo = succeeded;
    to_undo.insert(in_doubt.begin(), in_doubt.end());
    EXPECT_EQ(compensated, to_undo) << p.id << "\n" << view.dump(2);
    EXPECT_FALSE(succeeded.count(p.fails_at)) << p.id;
    EXPECT_EQ(effect_count.count(p.id + ":" + p.fails_at), 0u) << p.id;
  }
  for (const auto& key : expected_keys) {
    EXPECT_EQ(effect_count.count(key), 1u) << "missing effect " << key;
  }
  for (const auto& [key, n] : effect_count) {
    EXPECT_EQ(n, 1) << "effect " << key << " happened " << n << " times";
    const bool expected = expected_keys.count(key) != 0;
    const bool allowed = allowed_keys.count(key) != 0;
    EXPECT_TRUE(expected || allowed) << "unexpected effect " << key;
    if (!expected && allowed) {
      ++uncertain;
      std::printf("effect of a step in doubt (it stopped retrying, and was compensated): %s\n",
                  key.c_str());
    }
  }
  EXPECT_EQ(effect_count.size(), expected_keys.size() + static_cast<std::size_t>(uncertain));
  EXPECT_GT(resumed, 0) << "no crash landed while workflows were in flight";
  EXPECT_GT(resumed_compensating, 0) << "no crash landed while a workflow was compensating";
  auto elapsed =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - begin);
  std::printf(
      "%d workflows (%d completed, %d failed, %d resumed after a crash, %d of them while "
      "compensating), %d crashes (%d with workflows "
      "in flight); worker: %lld deliveries, %zu effects applied (%d of steps with an uncertain "
      "outcome), "
      "%lld duplicates suppressed, %lld keys delivered more than once; %lld s\n",
      kWorkflows, completed, failed, resumed, resumed_compensating, kCrashes, crashes_in_flight,
      static_cast<long long>(deliveries), effect_count.size(), uncertain,
      static_cast<long long>(suppressed), static_cast<long long>(redelivered_keys),
      static_cast<long long>(elapsed.count()));
  EXPECT_LT(elapsed, std::chrono::seconds(120));
}

/// Workflows parked on a signal step, and signals kept for a step that does not wait yet, survive
/// a SIGKILL: after the restart every workflow takes its signal once and completes.
TEST(MediatorCrashRecovery, WorkflowsParkedOnSignalsSurviveAKill) {
  Harness h("crash-signal");
  h.start_worker();
  h.start_mediator();
  auto start = [&](const std::string& id, const json& input) {
    auto r = h.start("test_signal", input, id);
    ASSERT_EQ(r.status, 202) << r.body;
  };
  auto signal = [&](const std::string& id, const std::string& note) {
    auto r = h.post("/api/workflows/" + id + "/signals/approved",
                    {{"signal_id", "s-" + id}, {"payload", {{"note", note}}}}, h.token());
    ASSERT_EQ(r.status, 202) << r.body;
  };
  const std::string suffix = new_uuid().substr(0, 8);
  const std::vector<std::string> parked{"parked-1-" + suffix, "parked-2-" + suffix};
  const std::vector<std::string> early{"early-1-" + suffix, "early-2-" + suffix};
  for (const auto& id : parked)
    start(id, json::object());
  // `prepare` runs long enough for the mediator to die with the signal kept and not yet taken.
  for (const auto& id : early) {
    start(id, {{"slow_ms", {{"prepare", 3000}}}});
    signal(id, "sent early");
  }
  for (const auto& id : parked) {
    ASSERT_FALSE(
        h.wait_for(id, [](const json& v) { return last_started(v) == "approval"; }).is_null())
        << id;
  }
  h.kill_mediator();
  h.start_mediator();
  for (const auto& id : parked)
    signal(id, "sent after the restart");
  // early[0] gets nothing more: it lives on the signal kept in the journal. early[1] gets it
  // again, as from a sender that never saw the answer: a duplicate.
  signal(early[1], "sent early");
  for (const auto& id : parked) {
    json view = h.wait_settled(id);
    ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
    EXPECT_EQ(records(view, {"completed"})[0]["data"]["output"].value("note", ""),
              "sent after the restart");
  }
  for (const auto& id : early) {
    json view = h.wait_settled(id);
    ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
    EXPECT_EQ(records(view, {"signal_received"}).size(), 1u) << view.dump(2);
    EXPECT_EQ(records(view, {"completed"})[0]["data"]["output"].value("note", ""), "sent early");
  }
  for (const auto& id : parked) {
    auto effects = h.effects(id);
    EXPECT_EQ(std::count_if(effects.begin(), effects.end(),
                            [](const Effect& e) { return e.action == "worker.finish"; }),
              1)
        << id;
  }
  EXPECT_EQ(h.stop_mediator(), 0) << h.mediator_log();
}

/// Workflows past their pivot whose last step keeps failing ride out a SIGKILL: after the restart
/// they go on retrying past the step's attempts (the decision is rebuilt from the journal), and
/// they complete without undoing anything.
TEST(MediatorCrashRecovery, WorkflowsPastTheirPivotAreNeitherUndoneNorGivenUpAfterAKill) {
  Harness h("crash-pivot");
  h.start_worker();
  h.start_mediator();
  const std::string suffix = new_uuid().substr(0, 8);
  const std::vector<std::string> ids{"pivot-1-" + suffix, "pivot-2-" + suffix};
  for (const auto& id : ids) {
    auto r = h.start("test_pivot", {{"fail_times", {{"finish", 14}}}}, id);
    ASSERT_EQ(r.status, 202) << r.body;
    r = h.post("/api/workflows/" + id + "/signals/approved", json::object(), h.token());
    ASSERT_EQ(r.status, 202) << r.body;
  }
  // Killed once every workflow is past the two attempts its last step allows.
  for (const auto& id : ids) {
    ASSERT_FALSE(
        h.wait_for(id, [](const json& v) { return attempts_of(v, "finish") >= 3; }).is_null())
        << id;
  }
  h.kill_mediator();
  h.start_mediator();
  for (const auto& id : ids) {
    json view = h.wait_settled(id);
    ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
    EXPECT_GE(attempts_of(view, "finish"), 4u) << view.dump(2);
    EXPECT_TRUE(records(view, {"compensation_started", "needs_attention", "failed"}).empty())
        << view.dump(2);
    EXPECT_EQ(count_by_action(h.effects(id)),
              (std::map<std::string, int>{{"worker.prepare", 1}, {"worker.finish", 1}}))
        << id;
  }
  EXPECT_EQ(h.stop_mediator(), 0) << h.mediator_log();
}

/// Workflows parked on a signal step ride out a restart of the broker: a signal sent over HTTP
/// while the broker is down is recorded and its next command goes out once the broker is back,
/// the signals consumer comes back for signal events, and each step's effect happens once.
TEST(MediatorCrashRecovery, WorkflowsParkedOnSignalsRideOutABrokerRestart) {
  testing::PrivateBroker broker;
  testing::ScopedEnv url("WONDERLAND_AMQP_URL", broker.url());
  Harness h("broker-signal");
  h.start_worker();
  h.start_mediator();
  const std::string suffix = new_uuid().substr(0, 8);
  const std::vector<std::string> ids{"during-" + suffix, "http-after-" + suffix,
                                     "event-after-" + suffix};
  for (const auto& id : ids) {
    auto r = h.start("test_signal", json::object(), id);
    ASSERT_EQ(r.status, 202) << r.body;
  }
  for (const auto& id : ids) {
    ASSERT_FALSE(
        h.wait_for(id, [](const json& v) { return last_started(v) == "approval"; }).is_null())
        << id;
  }
  auto signal = [&](const std::string& id, const std::string& note) {
    return h.post("/api/workflows/" + id + "/signals/approved",
                  {{"signal_id", "s-" + id}, {"payload", {{"note", note}}}}, h.token());
  };

  broker.stop();
  // The journal is the mediator's own: the signal is taken while the broker is down.
  auto during = signal(ids[0], "sent while the broker was down");
  EXPECT_EQ(during.status, 202) << during.body << h.mediator_log();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  broker.start();

  auto after = signal(ids[1], "sent over HTTP after the restart");
  EXPECT_EQ(after.status, 202) << after.body;
  {
    messaging::ConnectionOptions o;
    o.url = broker.url();
    o.service = "signal-sender";
    messaging::Connection sender(o);
    auto event = messaging::Envelope::make(
        "workflow.signal.approved", {{"payload", {{"note", "sent as an event"}}}}, "signal-sender");
    event.correlation_id = ids[2];
    // The signals queue is durable: the event waits there for the mediator's consumer. Sent
    // again only while the broker refuses it (the connection may still be coming back).
    ASSERT_TRUE(testing::eventually(
        [&] {
          return messaging::publish_event(sender, messaging::exchanges::kEvents, event.type, event)
              .get()
              .ok();
        },
        std::chrono::seconds(30)));
  }
  const std::vector<std::string> notes{"sent while the broker was down",
                                       "sent over HTTP after the restart", "sent as an event"};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    json view = h.wait_settled(ids[i], std::chrono::seconds(60));
    ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2) << h.mediator_log();
    EXPECT_EQ(records(view, {"signal_received"}).size(), 1u) << view.dump(2);
    EXPECT_EQ(records(view, {"completed"})[0]["data"]["output"].value("note", ""), notes[i]);
    auto effects = h.effects(ids[i]);
    EXPECT_EQ(std::count_if(effects.begin(), effects.end(),
                            [](const Effect& e) { return e.action == "worker.finish"; }),
              1)
        << ids[i];
  }
  EXPECT_EQ(h.stop_mediator(), 0) << h.mediator_log();
}

/// A workflow past its pivot whose next command cannot reach the broker keeps trying for as long
/// as the broker is down, past the two attempts its step allows, and completes once it is back:
/// a broker outage after the pivot undoes nothing.
TEST(MediatorCrashRecovery, AWorkflowPastItsPivotRidesOutABrokerOutageLongerThanItsRetries) {
  testing::PrivateBroker broker;
  testing::ScopedEnv url("WONDERLAND_AMQP_URL", broker.url());
  Harness h("broker-pivot");
  h.start_worker();
  h.start_mediator();
  const std::string id = "pivot-outage-" + new_uuid().substr(0, 8);
  auto r = h.start("test_pivot", json::object(), id);
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_FALSE(
      h.wait_for(id, [](const json& v) { return last_started(v) == "approval"; }).is_null());
  broker.stop();
  // The signal is taken from the mediator's own journal; `finish` cannot be sent.
  r = h.post("/api/workflows/" + id + "/signals/approved", json::object(), h.token());
  EXPECT_EQ(r.status, 202) << r.body << h.mediator_log();
  ASSERT_FALSE(h.wait_for(id,
                          [](const json& v) {
                            return records(v, {"step_attempt_failed", "step_failed"}).size() >= 2;
                          })
                   .is_null())
      << h.mediator_log();
  broker.start();
  json view = h.wait_settled(id, std::chrono::seconds(60));
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2) << h.mediator_log();
  EXPECT_TRUE(records(view, {"compensation_started", "needs_attention", "failed"}).empty())
      << view.dump(2);
  EXPECT_EQ(count_by_action(h.effects(id)),
            (std::map<std::string, int>{{"worker.prepare", 1}, {"worker.finish", 1}}));
  EXPECT_EQ(h.stop_mediator(), 0) << h.mediator_log();
}

TEST(MediatorCrashRecovery, WorkflowsParkedInChildWorkflowsAndMapsSurviveAKill) {
  Harness h("crash-children");
  h.start_worker();
  h.start_mediator();
  const std::string suffix = new_uuid().substr(0, 8);
  const std::string parent = "parent-" + suffix;
  const std::string mapped = "mapped-" + suffix;
  ASSERT_EQ(h.start("test_child", json::object(), parent).status, 202);
  ASSERT_EQ(h.start("test_map", {{"items", json::array({"x", "y"})}}, mapped).status, 202);
  const std::string child = parent + ".approve";
  const std::vector<std::string> iterations{mapped + ".each.0", mapped + ".each.1"};
  auto parked_on_approval = [](const json& v) { return last_started(v) == "approval"; };
  for (const auto& id : std::vector<std::string>{child, iterations[0], iterations[1]})
    ASSERT_FALSE(h.wait_for(id, parked_on_approval).is_null()) << id;
  h.kill_mediator();
  h.start_mediator();
  for (const auto& id : std::vector<std::string>{child, iterations[0], iterations[1]}) {
    auto r = h.post("/api/workflows/" + id + "/signals/approved",
                    {{"signal_id", "s-" + id}, {"payload", {{"note", "after " + id}}}}, h.token());
    ASSERT_EQ(r.status, 202) << r.body;
  }
  json view = h.wait_settled(parent);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  EXPECT_EQ(records(view, {"completed"})[0]["data"]["output"].value("note", ""), "after " + child);
  EXPECT_EQ(records(view, {"step_started"}).size(), 1u) << view.dump(2);
  json child_view = h.wait_settled(child);
  EXPECT_EQ(records(child_view, {"started"}).size(), 1u);
  EXPECT_EQ(child_view["parent"], (json{{"workflow_id", parent}, {"step", "approve"}}));

  json map_view = h.wait_settled(mapped);
  ASSERT_EQ(map_view.value("status", ""), "completed") << map_view.dump(2);
  EXPECT_EQ(records(map_view, {"iteration_started"}).size(), 2u) << map_view.dump(2);
  json outputs = records(map_view, {"step_succeeded"}).back()["data"]["output"];
  EXPECT_EQ(outputs, (json::array({json{{"item", "x"}, {"note", "after " + iterations[0]}},
                                   json{{"item", "y"}, {"note", "after " + iterations[1]}}})));
  for (const auto& id : std::vector<std::string>{child, iterations[0], iterations[1]}) {
    auto effects = h.effects(id);
    EXPECT_EQ(std::count_if(effects.begin(), effects.end(),
                            [](const Effect& e) { return e.action == "worker.finish"; }),
              1)
        << id;
  }
  EXPECT_EQ(h.stop_mediator(), 0) << h.mediator_log();
}

/// Workflows parked in a wait step survive a SIGKILL: after the restart each wait ends at the
/// time recorded when it started, not a new full duration after the restart nor at once, and each
/// workflow completes once with the step after the wait run once.
TEST(MediatorCrashRecovery, WorkflowsParkedInAWaitEndAtTheRecordedTimeAfterAKill) {
  constexpr std::int64_t kWaitMs = 8000;
  constexpr auto kDown = std::chrono::seconds(2);  // the mediator stays dead that long
  Harness h("crash-wait");
  h.start_worker();
  h.start_mediator();
  const std::string suffix = new_uuid().substr(0, 8);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back("waiting-" + std::to_string(i) + "-" + suffix);
    ASSERT_EQ(h.start("test_wait", {{"wait_ms", kWaitMs}}, ids.back()).status, 202);
  }
  auto wait_started = [](const json& v) {
    for (const json& r : records(v, {"step_started"})) {
      if (r.value("step", "") == "cool_off")
        return r;
    }
    return json();
  };
  std::map<std::string, std::int64_t> until;
  for (const auto& id : ids) {
    json view = h.wait_for(id, [&](const json& v) { return !wait_started(v).is_null(); });
    ASSERT_FALSE(view.is_null()) << id;
    until[id] = wait_started(view)["data"].value("wait_until_ms", std::int64_t{-1});
  }
  h.kill_mediator();
  std::this_thread::sleep_for(kDown);
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  // A wait restarted from scratch would end kWaitMs after this at the earliest.
  const std::int64_t restarted = now_ms();
  h.start_mediator();
  const std::int64_t ready = now_ms();
  for (const auto& [id, t] : until) {
    // Else the waits ended while the mediator was dead and the test proves nothing.
    ASSERT_GT(t, ready) << id << ": the mediator was not back before the end of the wait";
    ASSERT_GT(restarted + kWaitMs, t + 1000) << id;
  }
  for (const auto& id : ids) {
    json view = h.wait_settled(id);
    ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2) << h.mediator_log();
    EXPECT_EQ(records(view, {"completed"}).size(), 1u) << view.dump(2);
    auto steps_named = [&](const char* type) {
      std::vector<json> out;
      for (const json& r : records(view, {type})) {
        if (r.value("step", "") == "cool_off")
          out.push_back(r);
      }
      return out;
    };
    auto started = steps_named("step_started");
    auto succeeded = steps_named("step_succeeded");
    ASSERT_EQ(started.size(), 1u) << view.dump(2);
    ASSERT_EQ(succeeded.size(), 1u) << view.dump(2);
    const std::string wait_until = started[0]["data"].value("wait_until", "");
    EXPECT_EQ(started[0]["data"].value("wait_until_ms", std::int64_t{-1}), until[id]);
    EXPECT_EQ(succeeded[0]["data"]["output"].value("waited_until", ""), wait_until);
    EXPECT_EQ(records(view, {"completed"})[0]["data"]["output"].value("waited_until", ""),
              wait_until);
    // Ended at the recorded time: not early, and well before a new full wait could end.
    const std::int64_t ended = at_ms(succeeded[0]);
    EXPECT_GE(ended, until[id] - 100) << view.dump(2);
    EXPECT_LT(ended, restarted + kWaitMs) << view.dump(2);
    auto effects = h.effects(id);
    EXPECT_EQ(std::count_if(effects.begin(), effects.end(),
                            [](const Effect& e) { return e.action == "worker.finish"; }),
              1)
        << id;
  }
  EXPECT_EQ(h.stop_mediator(), 0) << h.mediator_log();
}

}  // namespace
}  // namespace wonderland::mediator_test
