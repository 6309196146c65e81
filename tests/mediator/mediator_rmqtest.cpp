// The wonderland-mediator binary over the real broker, driving the test worker (worker_main.cpp)
// with the definitions of tests/mediator/workflows through the operator API.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "support.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/http_client.hpp"

namespace wonderland::mediator_test {
namespace {

/// The steps of `records` in order.
std::vector<std::string> steps_of(const std::vector<json>& records) {
  std::vector<std::string> out;
  for (const json& r : records)
    out.push_back(r.value("step", ""));
  return out;
}

/// Index of the first record of `type` (and `step`, when given) in the timeline, or -1.
int index_of(const json& view, const std::string& type, const std::string& step = {}) {
  const json& t = view["timeline"];
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].value("type", "") == type && (step.empty() || t[i].value("step", "") == step)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::map<std::string, int> count_by_key(const std::vector<Effect>& effects) {
  std::map<std::string, int> out;
  for (const auto& e : effects)
    ++out[e.key];
  return out;
}

class MediatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Four attempts per compensation, quickly spaced, so that needs_attention is reachable.
    harness_ = new Harness("mediator", {{"WONDERLAND_COMPENSATION_MAX_ATTEMPTS", "4"},
                                        {"WONDERLAND_COMPENSATION_BACKOFF_MS", "20"},
                                        {"WONDERLAND_COMPENSATION_MAX_BACKOFF_MS", "80"}});
    harness_->start_worker();
    harness_->start_mediator();
  }
  static void TearDownTestSuite() {
    // Both stop cleanly on SIGTERM (a sanitizer report at shutdown makes the exit status 1).
    if (int status = harness_->stop_mediator(); status != 0) {
      ADD_FAILURE() << "the mediator exited with status " << status << "\n"
                    << harness_->mediator_log();
    }
    if (int status = harness_->stop_worker(); status != 0) {
      ADD_FAILURE() << "the worker exited with status " << status << "\n" << harness_->worker_log();
    }
    delete harness_;
    harness_ = nullptr;
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << harness_->mediator_log() << harness_->worker_log();
    }
  }

  Harness& h() { return *harness_; }

  /// Starts a workflow with a fresh id and returns the id.
  std::string start(const std::string& definition, const json& input) {
    std::string id = "wf-" + new_uuid();
    auto r = h().start(definition, input, id);
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(r.json().value("id", ""), id) << r.body;
    return id;
  }

  /// Asks for a retry of `id`; returns its view once its status is `status` (null on timeout).
  json retry_until(const std::string& id, const std::string& status) {
    auto r = h().post("/api/workflows/" + id + "/retry", json::object(), h().token());
    EXPECT_EQ(r.status, 202) << r.body;
    return h().wait_for(id, [&status](const json& v) { return v.value("status", "") == status; });
  }

  static Harness* harness_;
};

Harness* MediatorTest::harness_ = nullptr;

TEST_F(MediatorTest, FiveStepWorkflowCompletesWithOneEffectPerStep) {
  std::string id = start("test_five_step", {{"customer", "c-1"}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  auto done = records(view, {"completed"});
  ASSERT_EQ(done.size(), 1u);
  auto effects = h().effects(id);
  std::set<std::string> keys;
  for (const auto& e : effects) {
    EXPECT_EQ(e.kind, "effect");
    keys.insert(e.key);
  }
  EXPECT_EQ(keys, (std::set<std::string>{id + ":reserve", id + ":charge", id + ":fulfil/ship",
                                         id + ":fulfil/record", id + ":confirm"}));
  EXPECT_EQ(effects.size(), 5u);
  // The output template reads the last step's reply.
  EXPECT_EQ(done[0]["data"]["output"]["confirmed"], effects.back().id);
}

TEST_F(MediatorTest, ParallelBranchesRunConcurrentlyAndJoin) {
  std::string id = start("test_five_step", {{"slow_ms", {{"ship", 600}, {"record", 600}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  int ship_started = index_of(view, "step_started", "fulfil/ship");
  int record_started = index_of(view, "step_started", "fulfil/record");
  int ship_done = index_of(view, "step_succeeded", "fulfil/ship");
  int record_done = index_of(view, "step_succeeded", "fulfil/record");
  int join = index_of(view, "step_succeeded", "fulfil");
  int confirm = index_of(view, "step_started", "confirm");
  ASSERT_GE(std::min({ship_started, record_started, ship_done, record_done, join, confirm}), 0);
  // Both branches were sent before either answered, and the join waited for both.
  EXPECT_LT(std::max(ship_started, record_started), std::min(ship_done, record_done));
  EXPECT_GT(join, std::max(ship_done, record_done));
  EXPECT_GT(confirm, join);
  // Two 600 ms steps side by side take about 600 ms, not 1200.
  std::int64_t fulfil_ms =
      view["timeline"][static_cast<std::size_t>(join)]["data"].value("duration_ms", 0);
  EXPECT_GE(fulfil_ms, 590);
  EXPECT_LT(fulfil_ms, 1100);
}

TEST_F(MediatorTest, RetryableErrorsAreRetriedWithExponentialBackoff) {
  std::string id = start("test_retry", {{"fail_times", {{"flaky", 3}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  auto failed = records(view, {"step_attempt_failed"});
  ASSERT_EQ(failed.size(), 3u);
  auto attempts = records(view, {"step_attempt"});
  ASSERT_EQ(attempts.size(), 3u);
  const std::int64_t expected[] = {200, 400, 800};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(failed[i]["data"].value("retry_in_ms", 0), expected[i]);
    EXPECT_EQ(failed[i]["data"]["error"].value("code", ""), "unavailable");
    EXPECT_EQ(attempts[i].value("attempt", 0), static_cast<int>(i) + 2);
    // The next attempt waited for its backoff (timestamps have millisecond resolution).
    EXPECT_GE(at_ms(attempts[i]) - at_ms(failed[i]), expected[i] - 2) << i;
  }
  // Four deliveries of one key, one effect.
  auto deliveries = h().deliveries();
  EXPECT_EQ(deliveries[id + ":flaky"], 4);
  EXPECT_EQ(count_by_key(h().effects(id))[id + ":flaky"], 1);
}

TEST_F(MediatorTest, ExhaustedRetriesFailTheWorkflowAndCompensate) {
  std::string id = start("test_retry", {{"fail_times", {{"flaky", 100}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "failed") << view.dump(2);
  EXPECT_NE(view.value("reason", "").find("after 4 attempts"), std::string::npos)
      << view.value("reason", "");
  EXPECT_EQ(steps_of(records(view, {"compensation_succeeded"})),
            std::vector<std::string>{"prepare"});
  EXPECT_EQ(h().deliveries()[id + ":flaky"], 4);
  auto keys = count_by_key(h().effects(id));
  EXPECT_EQ(keys,
            (std::map<std::string, int>{{id + ":prepare", 1}, {id + ":prepare:compensate", 1}}));
}

TEST_F(MediatorTest, TimeoutsAreRetriedThenFailTheStep) {
  // Every attempt is slower than the 300 ms timeout: two attempts, then the workflow fails.
  std::string id = start("test_timeout", {{"slow_ms", {{"slow", 1000}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "failed") << view.dump(2);
  EXPECT_EQ(view.value("reason", ""),
            "step 'slow' (worker.slow) failed after 2 attempts: deadline_exceeded: no reply within "
            "300 ms");
  auto failed = records(view, {"step_attempt_failed", "step_failed"});
  ASSERT_EQ(failed.size(), 2u);
  for (const json& r : failed) {
    EXPECT_EQ(r["data"]["error"].value("code", ""), "deadline_exceeded") << r.dump();
    EXPECT_GE(r["data"].value("duration_ms", 0), 290);
    EXPECT_LT(r["data"].value("duration_ms", 0), 900);
  }
  // The second attempt went out after the first one's timeout and its 100 ms backoff.
  auto attempts = records(view, {"step_attempt"});
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_GE(at_ms(attempts[0]) - at_ms(failed[0]), 98);
  // No reply in time: the step may have taken effect, so it is in doubt and compensated first,
  // then the step that completed before it.
  EXPECT_TRUE(failed[1]["data"].value("in_doubt", false)) << failed[1].dump();
  EXPECT_EQ(steps_of(records(view, {"compensation_succeeded"})),
            (std::vector<std::string>{"slow", "prepare"}));
  // The slow command did take effect at the worker, once, after the workflow gave up on it; its
  // compensation was applied once too.
  ASSERT_TRUE(testing::eventually([&] { return count_by_key(h().effects(id))[id + ":slow"] == 1; },
                                  std::chrono::seconds(10)));
  EXPECT_EQ(count_by_key(h().effects(id))[id + ":slow:compensate"], 1);
  EXPECT_EQ(h().deliveries()[id + ":slow"], 2);
}

TEST_F(MediatorTest, ATimedOutAttemptIsRetriedUnderTheSameKey) {
  std::string id =
      start("test_timeout", {{"slow_ms", {{"slow", 1000}}}, {"slow_times", {{"slow", 1}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  auto failed = records(view, {"step_attempt_failed"});
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["data"]["error"].value("code", ""), "deadline_exceeded");
  // The first, slow delivery finishes later and finds the effect already recorded.
  ASSERT_TRUE(testing::eventually([&] { return h().deliveries()[id + ":slow"] == 2; },
                                  std::chrono::seconds(5)));
  // Once both deliveries are handled, the later one answered from the idempotency store.
  ASSERT_TRUE(testing::eventually([&] { return h().suppressed()[id + ":slow"] == 1; },
                                  std::chrono::seconds(5)));
  EXPECT_EQ(count_by_key(h().effects(id))[id + ":slow"], 1);
}

TEST_F(MediatorTest, AFinalFailureCompensatesInReverseOrderOfCompletion) {
  std::string id =
      start("test_five_step", {{"fail_runs", {{"confirm", 1000}}}, {"slow_ms", {{"record", 150}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "failed") << view.dump(2);
  // A readable reason: the step, its action, the error code and the service's message.
  EXPECT_EQ(view.value("reason", ""),
            "step 'confirm' (worker.confirm) failed: failed_precondition: refused on purpose");
  auto step_failed = records(view, {"step_failed"});
  ASSERT_EQ(step_failed.size(), 1u);
  EXPECT_EQ(step_failed[0].value("step", ""), "confirm");
  EXPECT_EQ(step_failed[0].value("attempt", 0), 1);  // a final error is not retried
  EXPECT_FALSE(step_failed[0]["data"]["error"].value("retryable", true));
  EXPECT_EQ(h().deliveries()[id + ":confirm"], 1);
  std::vector<std::string> completed;
  for (const json& r : records(view, {"step_succeeded"})) {
    std::string step = r.value("step", "");
    if (step != "fulfil" && step.rfind("on_failure/", 0) != 0)
      completed.push_back(step);
  }
  ASSERT_EQ(completed.size(), 4u);
  auto compensated = steps_of(records(view, {"compensation_succeeded"}));
  std::vector<std::string> reversed(completed.rbegin(), completed.rend());
  EXPECT_EQ(compensated, reversed);
  // One at a time: each compensation started after the previous one succeeded.
  auto comp_records = records(view, {"compensation_started", "compensation_succeeded"});
  ASSERT_EQ(comp_records.size(), 8u);
  for (std::size_t i = 0; i < comp_records.size(); ++i) {
    EXPECT_EQ(comp_records[i].value("type", ""),
              i % 2 == 0 ? "compensation_started" : "compensation_succeeded");
  }
  // The failure handler ran after compensation, then the workflow failed.
  int announce = index_of(view, "step_succeeded", "on_failure/announce_failure");
  int last_comp = index_of(view, "compensation_succeeded", reversed.back());
  int failed = index_of(view, "failed");
  EXPECT_GT(announce, last_comp);
  EXPECT_GT(failed, announce);
  EXPECT_EQ(view["timeline"][static_cast<std::size_t>(failed)]["data"].value("compensations", 0),
            4);
  // The worker saw the compensations in the same order.
  std::vector<std::string> undone;
  for (const auto& e : h().effects(id)) {
    if (e.kind == "compensation")
      undone.push_back(e.key.substr(id.size() + 1, e.key.size() - id.size() - 12));
  }
  EXPECT_EQ(undone, reversed);
  EXPECT_EQ(count_by_key(h().effects(id)).count(id + ":confirm"), 0u);
}

TEST_F(MediatorTest, FailingCompensationsAreRetried) {
  std::string id = start(
      "test_five_step", {{"fail_runs", {{"charge", 1000}}}, {"comp_fail_times", {{"reserve", 2}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "failed") << view.dump(2);
  EXPECT_EQ(records(view, {"compensation_attempt_failed"}).size(), 2u);
  EXPECT_EQ(h().deliveries()[id + ":reserve:compensate"], 3);
  EXPECT_EQ(count_by_key(h().effects(id))[id + ":reserve:compensate"], 1);
}

TEST_F(MediatorTest, ACompensationThatNeverSucceedsNeedsAttentionUntilAnOperatorRetries) {
  auto gauge = [&] {
    auto r = h().get("/metrics", h().token());
    EXPECT_EQ(r.status, 200);
    const std::string needle = "\nwonderland_workflows_awaiting_attention ";
    auto pos = r.body.find(needle);
    return pos == std::string::npos ? -1.0 : std::stod(r.body.substr(pos + needle.size()));
  };
  auto listed = [&](const std::string& target, const std::string& id) {
    auto r = h().get(target, h().token());
    EXPECT_EQ(r.status, 200) << r.body;
    const json body = r.json();
    for (const json& item : body["items"])
      if (item.value("id", "") == id)
        return item.value("status", "");
    return std::string();
  };
  const double before = gauge();
  ASSERT_GE(before, 0);
  // `charge` fails for good; reserve's undo fails its first 4 deliveries, and the mediator allows
  // 4 attempts.
  std::string id = start(
      "test_five_step", {{"fail_runs", {{"charge", 1000}}}, {"comp_fail_times", {{"reserve", 4}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "needs_attention") << view.dump(2);
  EXPECT_EQ(h().deliveries()[id + ":reserve:compensate"], 4);
  EXPECT_EQ(count_by_key(h().effects(id)).count(id + ":reserve:compensate"), 0u);
  EXPECT_GE(index_of(view, "needs_attention"), 0);
  EXPECT_EQ(listed("/api/workflows?status=needs_attention&definition=test_five_step", id),
            "needs_attention");
  EXPECT_EQ(gauge(), before + 1);
  auto m = h().get("/api/metrics", h().token());
  EXPECT_GE(m.json()["workflows"].value("needs_attention", 0), 1);

  // Once the cause is gone (here: the fifth delivery succeeds), an operator's retry resumes the
  // compensation under the same key, and the workflow ends failed.
  view = retry_until(id, "failed");
  ASSERT_FALSE(view.is_null()) << h().workflow(id).dump(2);
  auto retried = records(view, {"retry_requested"});
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0]["data"].value("mode", ""), "compensation");
  EXPECT_EQ(h().deliveries()[id + ":reserve:compensate"], 5);
  EXPECT_EQ(count_by_key(h().effects(id))[id + ":reserve:compensate"], 1);
  EXPECT_EQ(listed("/api/workflows?status=needs_attention&definition=test_five_step", id), "");
  EXPECT_EQ(gauge(), before);
}

TEST_F(MediatorTest, WorkflowsAreListedByStatusDefinitionAndTime) {
  const std::string from = format_iso8601(std::chrono::system_clock::now());
  std::string done = start("test_choice", {{"amount", 10}});
  std::string failed = start("test_choice", {{"amount", 10}, {"fail_runs", {{"finish", 1}}}});
  std::string other = start("test_retry", json::object());
  for (const auto& id : {done, failed, other})
    ASSERT_FALSE(h().wait_settled(id).is_null()) << id;
  ASSERT_EQ(h().workflow(failed).value("status", ""), "failed");
  // `to` is a later millisecond than every stamp written so far.
  const std::string settled = format_iso8601(std::chrono::system_clock::now());
  std::string to = settled;
  while (to <= settled) {
    std::this_thread::yield();
    to = format_iso8601(std::chrono::system_clock::now());
  }

  auto ids = [&](const std::string& query) {
    auto r = h().get("/api/workflows?" + query, h().token());
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    std::set<std::string> out;
    const json body = r.json();
    for (const json& item : body["items"])
      out.insert(item.value("id", ""));
    return out;
  };
  const std::string window = "from=" + from + "&to=" + to;
  EXPECT_EQ(ids(window), (std::set<std::string>{done, failed, other}));
  EXPECT_EQ(ids(window + "&definition=test_choice"), (std::set<std::string>{done, failed}));
  EXPECT_EQ(ids(window + "&definition=test_choice&status=failed"), std::set<std::string>{failed});
  EXPECT_EQ(ids(window + "&status=completed"), (std::set<std::string>{done, other}));
  EXPECT_TRUE(ids("to=" + from + "&definition=test_choice").count(done) == 0);
  EXPECT_TRUE(ids("from=" + to).empty());
  // A bound given to the second, without milliseconds, still covers the whole second.
  EXPECT_EQ(ids("from=" + from.substr(0, 19) + "Z&to=" + to + "&definition=test_retry"),
            std::set<std::string>{other});

  // Paging walks the same set without repeats.
  std::set<std::string> paged;
  std::string token;
  for (int pages = 0; pages < 5; ++pages) {
    auto r = h().get(
        "/api/workflows?" + window + "&limit=1" + (token.empty() ? "" : "&page_token=" + token),
        h().token());
    ASSERT_EQ(r.status, 200) << r.body;
    const json body = r.json();
    for (const json& item : body["items"])
      EXPECT_TRUE(paged.insert(item.value("id", "")).second);
    token = body.value("next_page_token", "");
    if (token.empty())
      break;
  }
  EXPECT_EQ(paged, (std::set<std::string>{done, failed, other}));

  for (const char* bad : {"status=lost", "from=yesterday", "to=2026-13-01T00:00:00Z", "limit=0"}) {
    auto r = h().get(std::string("/api/workflows?") + bad, h().token());
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_NE(r.header("content-type").find("application/problem+json"), std::string::npos);
    std::string field = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(r.body.find("\"" + field + "\""), std::string::npos) << r.body;
  }
}

TEST_F(MediatorTest, ChoiceRunsTheMatchingCase) {
  struct Case {
    int amount;
    int chosen;
    std::string step;
  };
  std::vector<Case> cases{
      {50, 0, "small"}, {5000, 1, "large"}, {600, 2, "special"}, {300, -1, "medium"}};
  std::vector<std::string> ids;
  for (const auto& c : cases)
    ids.push_back(start("test_choice", {{"amount", c.amount}}));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    json view = h().wait_settled(ids[i]);
    ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
    std::set<std::string> ran;
    for (const json& r : records(view, {"step_succeeded"}))
      ran.insert(r.value("step", ""));
    EXPECT_TRUE(ran.count("route/" + cases[i].step)) << cases[i].step;
    for (const char* other : {"small", "large", "special", "medium"}) {
      if (other != cases[i].step) {
        EXPECT_FALSE(ran.count(std::string("route/") + other)) << other;
      }
    }
    auto done = records(view, {"completed"});
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0]["data"]["output"].value("case", -99), cases[i].chosen);
    auto effects = h().effects(ids[i]);
    ASSERT_EQ(effects.size(), 3u);
    EXPECT_EQ(effects[1].action, "worker." + cases[i].step);
  }
}

TEST_F(MediatorTest, CancelRunsCompensations) {
  std::string id = start("test_five_step", {{"slow_ms", {{"charge", 1500}}}});
  json running =
      h().wait_for(id, [](const json& v) { return index_of(v, "step_started", "charge") >= 0; });
  ASSERT_FALSE(running.is_null());
  auto r = h().post("/api/workflows/" + id + "/cancel", {{"reason", "customer changed their mind"}},
                    h().token());
  EXPECT_EQ(r.status, 202) << r.body;
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "cancelled") << view.dump(2);
  EXPECT_NE(view.value("reason", "").find("customer changed their mind"), std::string::npos);
  // The command in flight finished, and was compensated with the step before it, latest first.
  EXPECT_EQ(steps_of(records(view, {"compensation_succeeded"})),
            (std::vector<std::string>{"charge", "reserve"}));
  EXPECT_EQ(index_of(view, "step_started", "fulfil"), -1);
  EXPECT_GE(index_of(view, "step_succeeded", "on_failure/announce_failure"), 0);
  auto keys = count_by_key(h().effects(id));
  EXPECT_EQ(keys, (std::map<std::string, int>{{id + ":reserve", 1},
                                              {id + ":charge", 1},
                                              {id + ":charge:compensate", 1},
                                              {id + ":reserve:compensate", 1}}));
  // A settled workflow cannot be cancelled again.
  r = h().post("/api/workflows/" + id + "/cancel", json::object(), h().token());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.json().value("code", ""), "failed_precondition");
}

TEST_F(MediatorTest, RetryOfAFailedWorkflowRunsItAgainUnderNewKeys) {
  // `confirm` refuses in run 0 only.
  std::string id = start("test_five_step", {{"fail_runs", {{"confirm", 1}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "failed") << view.dump(2);
  view = retry_until(id, "completed");
  ASSERT_FALSE(view.is_null()) << h().workflow(id).dump(2);
  EXPECT_EQ(records(view, {"retry_requested"}).size(), 1u);
  auto keys = count_by_key(h().effects(id));
  // The first run's effects were undone, so the second run used new keys; nothing happened twice.
  for (const char* step : {"reserve", "charge", "fulfil/ship", "fulfil/record"}) {
    std::string key = id + ":" + step;
    EXPECT_EQ(keys[key], 1) << key;
    EXPECT_EQ(keys[key + ":compensate"], 1) << key;
    EXPECT_EQ(keys[key + "#1"], 1) << key;
  }
  EXPECT_EQ(keys[id + ":confirm#1"], 1);
  for (const auto& [key, n] : keys)
    EXPECT_EQ(n, 1) << key;
  // Retrying a completed workflow is refused.
  auto r = h().post("/api/workflows/" + id + "/retry", json::object(), h().token());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.json().value("code", ""), "failed_precondition");
}

TEST_F(MediatorTest, RetryResumesAtTheFailedStepAndKeepsWhatSucceeded) {
  // Nothing in test_choice has a compensation: after `finish` refuses in run 0, a retry sends only
  // `finish` again (under a new key, since the old one got a final answer), and the steps before
  // it keep their outputs without being sent again.
  std::string id = start("test_choice", {{"amount", 5000}, {"fail_runs", {{"finish", 1}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "failed") << view.dump(2);
  EXPECT_TRUE(records(view, {"compensation_started"}).empty());
  view = retry_until(id, "completed");
  ASSERT_FALSE(view.is_null()) << h().workflow(id).dump(2);
  auto retried = records(view, {"retry_requested"});
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0]["data"].value("mode", ""), "restart");
  EXPECT_EQ(retried[0]["data"].value("run", 0), 1);
  // Only `finish` started after the retry.
  const int retry_at = index_of(view, "retry_requested");
  std::vector<std::string> started_after;
  for (std::size_t i = static_cast<std::size_t>(retry_at); i < view["timeline"].size(); ++i) {
    const json& rec = view["timeline"][i];
    if (rec.value("type", "") == "step_started")
      started_after.push_back(rec.value("step", ""));
  }
  EXPECT_EQ(started_after, std::vector<std::string>{"finish"});
  auto deliveries = h().deliveries();
  EXPECT_EQ(deliveries[id + ":measure"], 1);
  EXPECT_EQ(deliveries[id + ":route/large"], 1);
  EXPECT_EQ(deliveries[id + ":finish"], 1);
  EXPECT_EQ(deliveries[id + ":finish#1"], 1);
  EXPECT_EQ(count_by_key(h().effects(id)),
            (std::map<std::string, int>{
                {id + ":measure", 1}, {id + ":route/large", 1}, {id + ":finish#1", 1}}));
  // The output is the one of the choice made in run 0.
  auto done = records(view, {"completed"});
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]["data"]["output"].value("case", -99), 1);
}

TEST_F(MediatorTest, StartRouteRefusesUnknownDefinitionsAndBadInput) {
  auto r = h().start("no_such_definition", json::object());
  EXPECT_EQ(r.status, 404) << r.body;
  r = h().post("/api/workflows", {{"definition", "test_choice"}, {"input", "not an object"}},
               h().token());
  EXPECT_EQ(r.status, 400) << r.body;
  r = h().post("/api/workflows", {{"input", json::object()}}, h().token());
  EXPECT_EQ(r.status, 400) << r.body;
  r = h().post("/api/workflows", {{"definition", "test_choice"}, {"id", "no spaces allowed"}},
               h().token());
  EXPECT_EQ(r.status, 400) << r.body;
  std::string id = start("test_choice", {{"amount", 1}});
  r = h().start("test_choice", {{"amount", 1}}, id);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(h().wait_settled(id).value("status", ""), "completed");
}

TEST_F(MediatorTest, UnknownWorkflowsAreNotFound) {
  const std::string id = "wf-unknown-" + new_uuid();
  auto r = h().get("/api/workflows/" + id, h().token());
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.json().value("code", ""), "not_found") << r.body;
  r = h().post("/api/workflows/" + id + "/cancel", json::object(), h().token());
  EXPECT_EQ(r.status, 404) << r.body;
  r = h().post("/api/workflows/" + id + "/retry", json::object(), h().token());
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_F(MediatorTest, OperatorRoutesNeedTheAdminToken) {
  for (const char* target :
       {"/api/workflows", "/api/workflows/x", "/metrics", "/api/metrics", "/api/definitions"}) {
    EXPECT_EQ(h().get(target, "").status, 401) << target;
    EXPECT_EQ(h().get(target, "not-the-token").status, 403) << target;
    EXPECT_NE(h().get(target, h().token()).status, 401) << target;
  }
  json body{{"definition", "test_choice"}, {"input", {{"amount", 1}}}};
  EXPECT_EQ(h().post("/api/workflows", body, "").status, 401);
  EXPECT_EQ(h().post("/api/workflows", body, "not-the-token").status, 403);
  EXPECT_EQ(h().post("/api/workflows/x/cancel", json::object(), "").status, 401);
  EXPECT_EQ(h().post("/api/workflows/x/retry", json::object(), "wrong").status, 403);
  auto list = h().get("/api/workflows?limit=5", h().token());
  ASSERT_EQ(list.status, 200);
  EXPECT_TRUE(list.json()["items"].is_array());
}

TEST_F(MediatorTest, HealthAndReadinessNeedNoToken) {
  auto health = h().get("/healthz", "");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json().value("status", ""), "ok");
  auto ready = h().get("/readyz", "");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json().value("broker", ""), "up");
  EXPECT_EQ(ready.json().value("engine", ""), "up");
  EXPECT_GE(ready.json()["services"].value(h().prefix() + "worker.commands", 0), 1) << ready.body;
}

TEST(MediatorReadiness, ReadyOnlyWhileTheServicesTheWorkflowsCallConsume) {
  using namespace std::chrono_literals;
  Harness h("readiness");
  const std::string queue = h.prefix() + "worker.commands";  // every test workflow's tasks
  auto readyz = [&h] {
    try {
      return h.get("/readyz", "");
    } catch (const std::exception&) {
      return HttpResponse{};  // not listening yet
    }
  };
  // The broker is up, nobody consumes the worker's queue (it does not even exist yet).
  h.launch_mediator();
  HttpResponse r;
  ASSERT_TRUE(testing::eventually(
      [&] {
        r = readyz();
        return r.status == 503 && r.json()["services"].contains(queue);
      },
      30s))
      << describe(r) << h.mediator_log();
  EXPECT_EQ(r.json().value("status", ""), "not ready");
  EXPECT_EQ(r.json().value("broker", ""), "up");
  EXPECT_EQ(r.json().value("engine", ""), "up");
  EXPECT_EQ(r.json()["services"], json({{queue, 0}})) << r.body;
  EXPECT_EQ(h.get("/healthz", "").status, 200);

  // The worker starts consuming: ready within the next check (every second).
  h.start_worker();
  ASSERT_TRUE(testing::eventually([&] { return (r = readyz()).status == 200; }, 10s))
      << describe(r);
  EXPECT_EQ(r.json().value("status", ""), "ready");
  EXPECT_EQ(r.json()["services"], json({{queue, 1}})) << r.body;

  EXPECT_FALSE(r.json().contains("degraded")) << r.body;

  // It stops (and deletes its queue): the mediator stays ready (it was once), degraded.
  ASSERT_EQ(h.stop_worker(), 0) << h.worker_log();
  ASSERT_TRUE(testing::eventually(
      [&] {
        r = readyz();
        return r.json().contains("services") && r.json()["services"] == json({{queue, 0}});
      },
      10s))
      << describe(r);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().value("degraded", false), true) << r.body;
  EXPECT_EQ(h.stop_mediator(), 0) << h.mediator_log();
  EXPECT_NE(h.mediator_log().find("readiness: not ready, no consumer on " + queue),
            std::string::npos)
      << h.mediator_log();

  // Without the requirement, the broker and the engine alone decide.
  h.set_mediator_env(0, "WONDERLAND_READYZ_REQUIRE_CONSUMERS", "0");
  h.start_mediator();
  r = readyz();
  EXPECT_EQ(r.status, 200) << describe(r);
  EXPECT_FALSE(r.json().contains("services")) << r.body;
}

TEST_F(MediatorTest, MetricsExposeCountersStepHistogramsAndJournalCommits) {
  std::string ok = start("test_retry", {{"fail_times", {{"flaky", 1}}}});
  std::string bad = start("test_timeout", {{"slow_ms", {{"slow", 400}}}});
  ASSERT_EQ(h().wait_settled(ok).value("status", ""), "completed");
  ASSERT_EQ(h().wait_settled(bad).value("status", ""), "failed");
  auto r = h().get("/metrics", h().token());
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/plain"), std::string::npos);
  auto value = [&](const std::string& name) -> double {
    std::string needle = "\n" + name + " ";
    auto pos = r.body.find(needle);
    if (pos == std::string::npos)
      return -1;
    return std::stod(r.body.substr(pos + needle.size()));
  };
  EXPECT_GE(value("wonderland_workflows_started_total"), 2);
  EXPECT_GE(value("wonderland_workflows_completed_total"), 1);
  EXPECT_GE(value("wonderland_workflows_failed_total"), 1);
  EXPECT_GE(value("wonderland_workflows_compensated_total"), 1);
  EXPECT_GE(value("wonderland_step_retries_total"), 2);
  EXPECT_GE(value("wonderland_step_timeouts_total"), 2);
  EXPECT_GE(value("wonderland_step_attempts_total"), 5);
  EXPECT_GE(value("wonderland_workflows_in_flight"), 0);
  for (const char* needle :
       {"# TYPE wonderland_step_duration_seconds histogram",
        "wonderland_step_duration_seconds_bucket{service=\"worker\",action=\"worker.flaky\",le=\"0."
        "005\"}",
        "wonderland_step_duration_seconds_bucket{service=\"worker\",action=\"worker.flaky\",le=\"+"
        "Inf\"}",
        "wonderland_step_duration_seconds_count{service=\"worker\",action=\"worker.prepare.undo\"}",
        "wonderland_step_errors_total{service=\"worker\",action=\"worker.slow\"}"}) {
    EXPECT_NE(r.body.find(needle), std::string::npos) << needle << "\n" << r.body;
  }
  // The journal: every commit timed; at least the two workflows' starts were committed.
  const double commits = value("wonderland_journal_commits_total");
  EXPECT_GE(commits, 2);
  EXPECT_GE(value("wonderland_journal_records_total"), commits);
  EXPECT_EQ(value("wonderland_journal_commit_duration_seconds_count"), commits);
  EXPECT_GT(value("wonderland_journal_commit_duration_seconds_sum"), 0);
  EXPECT_NE(r.body.find("# TYPE wonderland_journal_commit_duration_seconds histogram\n"
                        "wonderland_journal_commit_duration_seconds_bucket{le=\"5e-05\"} "),
            std::string::npos)
      << r.body;
  auto j = h().get("/api/metrics", h().token());
  ASSERT_EQ(j.status, 200);
  EXPECT_GE(j.json()["workflows"].value("started", 0), 2);
  const json journal = j.json()["journal"];
  EXPECT_GE(journal.value("commits", 0), 2) << journal.dump();
  EXPECT_EQ(journal.value("timed_commits", 0), journal.value("commits", -1));
  EXPECT_GT(journal.value("commit_p50_ms", 0.0), 0.0);
  EXPECT_LE(journal.value("commit_p50_ms", 0.0), journal.value("commit_p99_ms", 0.0));
}

TEST_F(MediatorTest, ASignalOverHttpIsKeptTakenOnceAndBecomesTheStepOutput) {
  // `prepare` is slow, so the signal is sent before its step waits, and kept for it.
  std::string id = start("test_signal", {{"slow_ms", {{"prepare", 800}}}});
  const std::string target = "/api/workflows/" + id + "/signals/approved";
  json signal{{"signal_id", "sig-1"}, {"payload", {{"note", "looks good"}}}};
  auto r = h().post(target, signal, h().token());
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json().value("signal_id", ""), "sig-1");
  // Sent again (a client that did not see the answer): accepted, and ignored.
  signal["payload"]["note"] = "sent again";
  r = h().post(target, signal, h().token());
  EXPECT_EQ(r.status, 202) << r.body;
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  EXPECT_EQ(records(view, {"signal_received"}).size(), 1u) << view.dump(2);
  auto done = records(view, {"completed"});
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]["data"]["output"].value("note", ""), "looks good");
  EXPECT_GT(index_of(view, "step_started", "finish"), index_of(view, "step_succeeded", "approval"));
  // An ended workflow takes no signal.
  r = h().post(target, json::object(), h().token());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.json().value("code", ""), "conflict");
}

TEST_F(MediatorTest, ASignalThatCannotBeTakenIsRefused) {
  std::string id = start("test_signal", {});
  ASSERT_FALSE(
      h().wait_for(id, [](const json& v) { return index_of(v, "step_started", "approval") >= 0; })
          .is_null());
  const std::string base = "/api/workflows/" + id + "/signals/";
  auto r = h().post(base + "rejected", json::object(), h().token());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.json().value("detail", r.body).find("waits for no signal 'rejected'"),
            std::string::npos)
      << r.body;
  r = h().post(base + "approved", {{"payload", json::array({1})}}, h().token());
  EXPECT_EQ(r.status, 400) << r.body;
  testing::HttpClient client(h().port());
  r = client.request(
      "POST", base + "approved", "{\"payload\": ",
      {{"Authorization", "Bearer " + h().token()}, {"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(h().post("/api/workflows/wf-none/signals/approved", json::object(), h().token()).status,
            404);
  EXPECT_EQ(h().post(base + "approved", json::object(), "").status, 401);
  EXPECT_EQ(h().post(base + "approved", json::object(), "wrong").status, 403);
  // None of them was recorded; a signal without a body is taken with an empty payload.
  r = h().post(base + "approved", json::object(), h().token());
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_FALSE(r.json().value("signal_id", "").empty()) << r.body;
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  EXPECT_EQ(records(view, {"signal_received"}).size(), 1u);
}

TEST_F(MediatorTest, ASignalEventOnTheBrokerReachesItsWorkflowAndAMalformedOneIsDeadLettered) {
  messaging::ConnectionOptions o;
  o.url = testing::amqp_url();
  o.service = "signal-sender";
  messaging::Connection sender(o);
  std::string id = start("test_signal", {});
  ASSERT_FALSE(
      h().wait_for(id, [](const json& v) { return index_of(v, "step_started", "approval") >= 0; })
          .is_null());

  // A malformed signal event: dead-lettered with its reason; the workflow still waits.
  auto bad = messaging::Envelope::make("workflow.signal.approved", {{"payload", "not an object"}},
                                       "signal-sender");
  bad.correlation_id = id;
  ASSERT_TRUE(
      messaging::publish_event(sender, messaging::exchanges::kEvents, bad.type, bad).get().ok());
  const messaging::QueueName dead{h().prefix() + "mediator.signals.dead"};
  std::optional<messaging::RawMessage> kept;
  ASSERT_TRUE(testing::eventually(
      [&] {
        kept = sender.get(dead);
        return kept.has_value() && kept->body.find(bad.message_id) != std::string::npos;
      },
      std::chrono::seconds(10)))
      << h().mediator_log();
  EXPECT_EQ(kept->string_headers["x-wonderland-reason"],
            "rejected by the handler: malformed signal: body.payload must be an object");

  // A good one: its message_id is the signal id, its payload the step's output.
  auto good = messaging::Envelope::make(
      "workflow.signal.approved", {{"payload", {{"note", "from a service"}}}}, "signal-sender");
  good.correlation_id = id;
  ASSERT_TRUE(
      messaging::publish_event(sender, messaging::exchanges::kEvents, good.type, good).get().ok());
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  auto received = records(view, {"signal_received"});
  ASSERT_EQ(received.size(), 1u) << view.dump(2);
  EXPECT_EQ(received[0]["data"].value("signal_id", ""), good.message_id);
  EXPECT_EQ(records(view, {"completed"})[0]["data"]["output"].value("note", ""), "from a service");
}

TEST_F(MediatorTest, AWorkflowPastItsPivotSaysSoAndCannotBeCancelled) {
  std::string id = start("test_pivot", {{"slow_ms", {{"prepare", 600}}}});
  json before =
      h().wait_for(id, [](const json& v) { return index_of(v, "step_started", "prepare") >= 0; });
  ASSERT_FALSE(before.is_null());
  EXPECT_EQ(before["pivot"], (json{{"step", "prepare"}, {"passed", false}})) << before.dump(2);
  json after =
      h().wait_for(id, [](const json& v) { return index_of(v, "step_started", "approval") >= 0; });
  ASSERT_FALSE(after.is_null());
  EXPECT_EQ(after.value("status", ""), "running");
  EXPECT_EQ(after["pivot"], (json{{"step", "prepare"}, {"passed", true}})) << after.dump(2);
  auto r = h().post("/api/workflows/" + id + "/cancel", json::object(), h().token());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.json().value("code", ""), "failed_precondition") << r.body;
  EXPECT_NE(r.json().value("detail", r.body).find("passed its pivot step 'prepare'"),
            std::string::npos)
      << r.body;
  r = h().post("/api/workflows/" + id + "/signals/approved", json::object(), h().token());
  ASSERT_EQ(r.status, 202) << r.body;
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  EXPECT_TRUE(view["pivot"].value("passed", false));
  EXPECT_EQ(records(view, {"cancel_requested", "compensation_started"}).size(), 0u);
  // A definition without a pivot has no such field.
  json plain = h().wait_settled(start("test_five_step", {}));
  EXPECT_EQ(plain.value("status", ""), "completed") << plain.dump(2);
  EXPECT_FALSE(plain.contains("pivot")) << plain.dump(2);
}

TEST_F(MediatorTest, PastItsPivotAStepIsRetriedBeyondItsAttemptsAndAFinalErrorUndoesNothing) {
  auto approve = [&](const std::string& id) {
    auto r = h().post("/api/workflows/" + id + "/signals/approved", json::object(), h().token());
    ASSERT_EQ(r.status, 202) << r.body;
  };
  // Five retryable errors where the step allows two attempts: past the pivot it keeps trying.
  std::string flaky = start("test_pivot", {{"fail_times", {{"finish", 5}}}});
  approve(flaky);
  json view = h().wait_settled(flaky);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  EXPECT_EQ(attempts_of(view, "finish"), 6u) << view.dump(2);
  EXPECT_TRUE(records(view, {"compensation_started"}).empty()) << view.dump(2);

  // An error that is not retried stops the workflow for an operator, and nothing is undone.
  std::string refused = start("test_pivot", {{"fail_runs", {{"finish", 1}}}});
  approve(refused);
  view = h().wait_settled(refused);
  ASSERT_EQ(view.value("status", ""), "needs_attention") << view.dump(2);
  EXPECT_NE(view.value("reason", "").find("after the pivot 'prepare' succeeded"), std::string::npos)
      << view.dump(2);
  EXPECT_TRUE(records(view, {"compensation_started"}).empty()) << view.dump(2);
  // Retry runs the failed step again, and what the pivot did stands.
  view = retry_until(refused, "completed");
  ASSERT_FALSE(view.is_null());
  EXPECT_EQ(attempts_of(view, "prepare"), 1u) << view.dump(2);
  for (const std::string& id : {flaky, refused}) {
    EXPECT_EQ(count_by_action(h().effects(id)),
              (std::map<std::string, int>{{"worker.prepare", 1}, {"worker.finish", 1}}))
        << id;
  }
}

TEST_F(MediatorTest, APausedWorkflowStartsNoNewStepUntilResumed) {
  std::string id = start("test_signal", {});
  ASSERT_FALSE(
      h().wait_for(id, [](const json& v) { return index_of(v, "step_started", "approval") >= 0; })
          .is_null());
  const std::string base = "/api/workflows/" + id;
  auto r = h().post(base + "/pause", json::object(), h().token());
  ASSERT_EQ(r.status, 202) << r.body;
  // The waiting step still takes its signal; the next one is held (it would have started in
  // the same pass).
  ASSERT_EQ(h().post(base + "/signals/approved", json::object(), h().token()).status, 202);
  json view = h().wait_for(
      id, [](const json& v) { return index_of(v, "step_succeeded", "approval") >= 0; });
  ASSERT_FALSE(view.is_null());
  EXPECT_EQ(view.value("status", ""), "running");
  EXPECT_EQ(index_of(view, "step_started", "finish"), -1) << view.dump(2);
  EXPECT_EQ(records(view, {"pause_requested"}).size(), 1u);
  r = h().post(base + "/resume", json::object(), h().token());
  ASSERT_EQ(r.status, 202) << r.body;
  view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "completed") << view.dump(2);
  EXPECT_GT(index_of(view, "step_started", "finish"), index_of(view, "resume_requested"));
  EXPECT_EQ(h().post(base + "/pause", json::object(), h().token()).status, 422);
  EXPECT_EQ(h().post("/api/workflows/wf-none/pause", json::object(), h().token()).status, 404);
  EXPECT_EQ(h().post(base + "/resume", json::object(), "").status, 401);
}

TEST_F(MediatorTest, AFailedWorkflowIsRerunFromAStepWithAReplacedInput) {
  std::string id = start("test_retry", {{"fail_times", {{"flaky", 100}}}});
  json view = h().wait_settled(id);
  ASSERT_EQ(view.value("status", ""), "failed") << view.dump(2);
  const std::string base = "/api/workflows/" + id + "/rerun";
  EXPECT_EQ(h().post(base, json{{"step", "nope"}}, h().token()).status, 400);
  EXPECT_EQ(h().post(base, json{{"step", "flaky"}, {"input", 7}}, h().token()).status, 400);
  EXPECT_EQ(h().post(base, json::object(), h().token()).status, 400);
  EXPECT_EQ(h().post("/api/workflows/wf-none/rerun", json{{"step", "flaky"}}, h().token()).status,
            404);
  EXPECT_EQ(h().post(base, json{{"step", "flaky"}}, "").status, 401);
  // The replaced input carries a secret: the step gets it, operators see it redacted.
  const json fixed = {{"workflow", id}, {"value", "fixed"}, {"payment_token", "tok-rerun-secret"}};
  json shown = fixed;
  shown["payment_token"] = "[redacted]";
  auto r = h().post(base, json{{"step", "flaky"}, {"input", fixed}}, h().token());
  ASSERT_EQ(r.status, 202) << r.body;
  view = h().wait_for(id, [](const json& v) { return v.value("status", "") == "completed"; });
  ASSERT_FALSE(view.is_null());
  EXPECT_EQ(view.dump().find("tok-rerun-secret"), std::string::npos) << view.dump(2);
  auto asked = records(view, {"rerun_requested"});
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].value("step", ""), "flaky");
  EXPECT_EQ(asked[0]["data"]["input"], shown);
  EXPECT_EQ(asked[0]["data"]["previous_input"].value("fail_times", 0), 100);
  EXPECT_EQ(asked[0]["data"].value("requested_by", ""), "admin token from 127.0.0.1")
      << asked[0].dump();
  // prepare was compensated, so it ran again; flaky ran with the replaced input, under a new key.
  auto started = records(view, {"step_started"});
  ASSERT_FALSE(started.empty());
  EXPECT_EQ(started.back()["data"]["request"], shown);
  EXPECT_EQ(started.back()["data"].value("idempotency_key", ""), id + ":flaky#1");
  EXPECT_EQ(count_by_key(h().effects(id))[id + ":prepare#1"], 1);
  EXPECT_EQ(h().post(base, json{{"step", "flaky"}}, h().token()).status, 422);
}

TEST_F(MediatorTest, DefinitionsShowHowManyWorkflowsRunPerVersion) {
  std::string id = start("test_signal", {});
  ASSERT_FALSE(
      h().wait_for(id, [](const json& v) { return index_of(v, "step_started", "approval") >= 0; })
          .is_null());
  auto running = [this]() -> std::int64_t {
    auto r = h().get("/api/definitions", h().token());
    EXPECT_EQ(r.status, 200) << r.body;
    const json body = json::parse(r.body);
    for (const json& d : body.at("items")) {
      if (d.value("name", "") == "test_signal" && d.value("version", 0) == 1)
        return d.value("running", std::int64_t{-1});
    }
    ADD_FAILURE() << "no test_signal v1 in " << r.body;
    return -1;
  };
  const std::int64_t before = running();
  EXPECT_GE(before, 1);
  ASSERT_EQ(
      h().post("/api/workflows/" + id + "/signals/approved", json::object(), h().token()).status,
      202);
  ASSERT_EQ(h().wait_settled(id).value("status", ""), "completed");
  EXPECT_EQ(running(), before - 1);
}

/// A bulk request's answer, with the job's view once it finished (null on timeout).
struct BulkRun {
  HttpResponse started;
  json job;
};

/// The time now, a millisecond after every stamp written so far.
std::string fresh_instant() {
  const std::string before = format_iso8601(std::chrono::system_clock::now());
  std::string now = before;
  while (now <= before) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    now = format_iso8601(std::chrono::system_clock::now());
  }
  return now;
}

std::set<std::string> id_set(const json& ids) {
  std::set<std::string> out;
  for (const json& id : ids)
    out.insert(id.get<std::string>());
  return out;
}

class BulkTest : public MediatorTest {
 protected:
  /// Posts a bulk request and polls its job until it finished.
  BulkRun run(const std::string& action, const json& filter) {
    BulkRun out;
    out.started =
        h().post("/api/workflows/bulk", json{{"action", action}, {"filter", filter}}, h().token());
    EXPECT_EQ(out.started.status, 202) << out.started.body;
    if (out.started.status != 202)
      return out;
    const std::string location = out.started.header("location");
    EXPECT_EQ(location, "/api/workflows/bulk/" + out.started.json().value("id", "?"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = h().get(location, h().token());
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status == 200 && r.json().value("state", "") == "finished") {
        out.job = r.json();
        return out;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "bulk " << action << " did not finish";
    return out;
  }

  json dry_run(const std::string& action, const json& filter) {
    auto r = h().post("/api/workflows/bulk",
                      json{{"action", action}, {"filter", filter}, {"dry_run", true}}, h().token());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.json() : json();
  }

  static void expect_counts(const json& job, std::size_t matched, std::size_t succeeded,
                            std::size_t skipped, std::size_t failed) {
    EXPECT_EQ(job.value("matched", -1), static_cast<int>(matched)) << job.dump(2);
    EXPECT_EQ(job.value("done", -1), static_cast<int>(matched)) << job.dump(2);
    EXPECT_EQ(job.value("succeeded", -1), static_cast<int>(succeeded)) << job.dump(2);
    EXPECT_EQ(job.value("skipped", -1), static_cast<int>(skipped)) << job.dump(2);
    EXPECT_EQ(job.value("failed", -1), static_cast<int>(failed)) << job.dump(2);
    EXPECT_TRUE(job["finished_at"].is_string()) << job.dump(2);
  }
};

TEST_F(BulkTest, ABulkRetryActsOnTheWorkflowsFailedAtAStepAndSkipsWhatItCannotRetry) {
  const std::string from = fresh_instant();
  std::vector<std::string> flaky;
  for (int i = 0; i < 3; ++i)
    flaky.push_back(start("test_retry", {{"fail_runs", {{"flaky", 1}}}}));
  const std::string at_prepare = start("test_retry", {{"fail_runs", {{"prepare", 1}}}});
  const std::string other = start("test_choice", {{"amount", 10}, {"fail_runs", {{"finish", 1}}}});
  for (const auto& id : flaky)
    ASSERT_EQ(h().wait_settled(id).value("status", ""), "failed") << id;
  ASSERT_EQ(h().wait_settled(at_prepare).value("status", ""), "failed");
  ASSERT_EQ(h().wait_settled(other).value("status", ""), "failed");

  // The list filters by the failing step and the version too.
  auto listed =
      h().get("/api/workflows?from=" + from + "&failing_step=flaky&version=1", h().token());
  ASSERT_EQ(listed.status, 200) << listed.body;
  std::set<std::string> listed_ids;
  const json listed_body = listed.json();
  for (const json& item : listed_body["items"])
    listed_ids.insert(item.value("id", ""));
  EXPECT_EQ(listed_ids, std::set<std::string>(flaky.begin(), flaky.end()));
  EXPECT_TRUE(h().get("/api/workflows?from=" + from + "&failing_step=flaky&version=2", h().token())
                  .json()["items"]
                  .empty());

  const json filter{{"definition", "test_retry"},
                    {"status", "failed"},
                    {"failing_step", "flaky"},
                    {"from", from}};
  json dry = dry_run("retry", filter);
  EXPECT_EQ(dry.value("action", ""), "retry");
  EXPECT_EQ(dry.value("matched", -1), 3) << dry.dump(2);
  EXPECT_EQ(id_set(dry["sample"]), std::set<std::string>(flaky.begin(), flaky.end()));
  for (const auto& id : flaky)  // a dry run changes nothing
    EXPECT_TRUE(records(h().workflow(id), {"retry_requested"}).empty()) << id;

  BulkRun retried = run("retry", filter);
  EXPECT_EQ(retried.started.json().value("matched", -1), 3) << retried.started.body;
  EXPECT_EQ(retried.started.json().value("action", ""), "retry");
  EXPECT_EQ(retried.started.json()["filter"], filter);
  expect_counts(retried.job, 3, 3, 0, 0);
  for (const auto& id : flaky) {
    json view =
        h().wait_for(id, [](const json& v) { return v.value("status", "") == "completed"; });
    ASSERT_FALSE(view.is_null()) << id;
    EXPECT_EQ(records(view, {"retry_requested"}).size(), 1u) << id;
  }
  for (const auto& id : {at_prepare, other}) {
    json view = h().workflow(id);
    EXPECT_EQ(view.value("status", ""), "failed") << id;
    EXPECT_TRUE(records(view, {"retry_requested"}).empty()) << id;
  }

  // Without the status, the completed ones match too: they are skipped with their reasons.
  BulkRun wide = run("retry", json{{"definition", "test_retry"}, {"from", from}});
  expect_counts(wide.job, 4, 1, 3, 0);
  ASSERT_EQ(wide.job["reasons"].size(), 3u) << wide.job.dump(2);
  for (const json& reason : wide.job["reasons"]) {
    EXPECT_EQ(reason.value("outcome", ""), "skipped");
    EXPECT_EQ(reason.value("code", ""), "failed_precondition");
    EXPECT_TRUE(std::find(flaky.begin(), flaky.end(), reason.value("id", "")) != flaky.end());
  }
  EXPECT_EQ(h().wait_settled(at_prepare).value("status", ""), "completed");
  EXPECT_EQ(h().workflow(other).value("status", ""), "failed");

  // The jobs are listed, newest first.
  auto jobs = h().get("/api/workflows/bulk", h().token());
  ASSERT_EQ(jobs.status, 200) << jobs.body;
  const json items = jobs.json()["items"];
  ASSERT_GE(items.size(), 2u);
  EXPECT_EQ(items[0].value("id", ""), wide.job.value("id", ""));
  EXPECT_EQ(items[1].value("id", ""), retried.job.value("id", ""));
}

TEST_F(BulkTest, BulkPauseResumeAndCancelActOnlyOnTheMatchingWorkflows) {
  const std::string before = fresh_instant();
  const std::string earlier = start("test_signal", {});
  const std::string from = fresh_instant();
  const std::string s1 = start("test_signal", {});
  const std::string s2 = start("test_signal", {});
  for (const auto& id : {earlier, s1, s2}) {
    ASSERT_FALSE(
        h().wait_for(id, [](const json& v) { return index_of(v, "step_started", "approval") >= 0; })
            .is_null())
        << id;
  }
  const json running{{"definition", "test_signal"}, {"status", "running"}, {"from", from}};
  EXPECT_EQ(dry_run("pause", running).value("matched", -1), 2);
  expect_counts(run("pause", running).job, 2, 2, 0, 0);
  for (const auto& id : {s1, s2})
    EXPECT_EQ(records(h().workflow(id), {"pause_requested"}).size(), 1u) << id;
  EXPECT_TRUE(records(h().workflow(earlier), {"pause_requested"}).empty());

  // Paused, they take their signal but start no next step.
  for (const auto& id : {s1, s2}) {
    ASSERT_EQ(
        h().post("/api/workflows/" + id + "/signals/approved", json::object(), h().token()).status,
        202);
    json view = h().wait_for(
        id, [](const json& v) { return index_of(v, "step_succeeded", "approval") >= 0; });
    ASSERT_FALSE(view.is_null()) << id;
    EXPECT_EQ(index_of(view, "step_started", "finish"), -1) << view.dump(2);
  }
  expect_counts(run("resume", running).job, 2, 2, 0, 0);
  for (const auto& id : {s1, s2})
    EXPECT_EQ(h().wait_settled(id).value("status", ""), "completed") << id;
  EXPECT_TRUE(records(h().workflow(earlier), {"resume_requested"}).empty());

  // Between the two instants there is only `earlier`.
  const json window{{"definition", "test_signal"}, {"from", before}, {"to", from}};
  EXPECT_EQ(id_set(dry_run("cancel", window)["sample"]), std::set<std::string>{earlier});
  expect_counts(run("cancel", window).job, 1, 1, 0, 0);
  EXPECT_EQ(h().wait_settled(earlier).value("status", ""), "cancelled");
  for (const auto& id : {s1, s2})
    EXPECT_EQ(h().workflow(id).value("status", ""), "completed") << id;
}

TEST_F(BulkTest, BulkRequestsAreCheckedAndNeedTheAdminToken) {
  const json good{{"action", "retry"}, {"filter", {{"status", "failed"}}}, {"dry_run", true}};
  EXPECT_EQ(h().post("/api/workflows/bulk", good, "").status, 401);
  EXPECT_EQ(h().post("/api/workflows/bulk", good, "not-the-token").status, 403);
  for (const char* target : {"/api/workflows/bulk", "/api/workflows/bulk/bulk-x"}) {
    EXPECT_EQ(h().get(target, "").status, 401) << target;
    EXPECT_EQ(h().get(target, "not-the-token").status, 403) << target;
  }
  EXPECT_EQ(h().get("/api/workflows/bulk/bulk-none", h().token()).status, 404);

  struct Bad {
    json body;
    const char* field;
  };
  const json some{{"status", "failed"}};
  const std::vector<Bad> bad = {
      {{{"filter", some}}, "action"},
      {{{"action", "explode"}, {"filter", some}}, "action"},
      {{{"action", "retry"}}, "filter"},
      {{{"action", "retry"}, {"filter", json::object()}}, "filter"},
      {{{"action", "retry"}, {"filter", 5}}, "filter"},
      {{{"action", "retry"}, {"filter", {{"status", "lost"}}}}, "filter.status"},
      {{{"action", "retry"}, {"filter", {{"from", "yesterday"}}}}, "filter.from"},
      {{{"action", "retry"}, {"filter", {{"version", 0}}}}, "filter.version"},
      {{{"action", "retry"}, {"filter", {{"definiton", "test_retry"}}}}, "filter.definiton"},
      {{{"action", "retry"}, {"filter", some}, {"dry_run", "yes"}}, "dry_run"},
  };
  for (const Bad& b : bad) {
    auto r = h().post("/api/workflows/bulk", b.body, h().token());
    EXPECT_EQ(r.status, 400) << b.body.dump() << ": " << r.body;
    EXPECT_NE(r.header("content-type").find("application/problem+json"), std::string::npos);
    EXPECT_NE(r.body.find("\"" + std::string(b.field) + "\""), std::string::npos)
        << b.body.dump() << ": " << r.body;
  }
  // Every workflow, explicitly.
  auto all = h().post("/api/workflows/bulk",
                      json{{"action", "cancel"}, {"all", true}, {"dry_run", true}}, h().token());
  EXPECT_EQ(all.status, 200) << all.body;
  EXPECT_GE(all.json().value("matched", -1), 0);
}

}  // namespace
}  // namespace wonderland::mediator_test
