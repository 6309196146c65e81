// Failover between wonderland-mediator processes that share one PostgreSQL journal: three
// mediators drive a stream of five-step workflows started round-robin through their HTTP ports
// while the first is killed with SIGKILL, then the second (the first still down), and the third
// is frozen with SIGSTOP for longer than its lease and then let go on. The others take the
// workflows of each over within seconds (the time is measured); the frozen one finds that it
// lost its workflows and writes and sends nothing more for them. In the end every workflow ended
// as planned with exactly one terminal record and a gap-free timeline, and at the worker every
// effect happened exactly once. Also: a mediator refuses an unreachable journal and an id that a
// live mediator holds.
//
// Cancel and retry sent to a mediator that does not own the workflow reach its owner over
// RabbitMQ (MediatorForwarding): the owner carries them out; after the owner was killed, the
// mediator asked answers a retryable 503 while the owner's lease lasts, then takes the running
// workflow over and cancels it itself, and claims a failed workflow of the dead owner to retry it.
//
// WONDERLAND_FAILOVER_KILLS=N runs FailoverTakeover.Times: N kills of a busy mediator with the
// median and the worst takeover time (skipped otherwise).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <thread>

#include "support.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/postgres.hpp"

namespace wonderland::mediator_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMediators = 3;
constexpr std::size_t kWorkflows = 150;
constexpr milliseconds kLease{1500};
constexpr milliseconds kTakeoverLimit{5000};
constexpr milliseconds kStartGap{90};  // between two starts of the stream

const std::vector<std::string> kSteps{"reserve", "charge", "fulfil/ship", "fulfil/record",
                                      "confirm"};

/// What a workflow is told to do, and so how it must end.
struct Plan {
  std::string id;
  json input;
  std::string fails_at;  ///< The step that refuses for good ("" when it completes).
};

Plan make_plan(std::size_t i, std::mt19937& rng) {
  Plan p;
  p.id = "fo-" + std::to_string(i) + "-" + new_uuid().substr(0, 8);
  json input{{"customer", "c-" + std::to_string(i)}};
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  // Slow steps keep commands in flight when a mediator dies.
  json slow = json::object();
  for (const char* s : {"reserve", "charge", "ship", "record", "confirm"}) {
    if (pick(2) == 0)
      slow[s] = 100 + pick(300);
  }
  input["slow_ms"] = slow;
  if (pick(4) == 0)
    input["fail_times"] = {{pick(2) == 0 ? "charge" : "ship", 1 + pick(2)}};
  if (pick(4) == 0) {
    const bool confirm = pick(2) == 0;
    input["fail_runs"] = {{confirm ? "confirm" : "record", 1}};
    p.fails_at = confirm ? "confirm" : "fulfil/record";
    json comp_slow = json::object();
    for (const char* s : {"reserve", "charge", "ship", "record"}) {
      if (pick(2) == 0)
        comp_slow[s] = 100 + pick(300);
    }
    input["comp_slow_ms"] = comp_slow;
  }
  p.input = std::move(input);
  return p;
}

/// The shared journal's tables, read directly.
class JournalDb {
 public:
  explicit JournalDb(const testing::ScopedSchema& schema)
      : conn_(schema.url()), schema_(schema.name()) {}

  /// The running workflows that `owner` holds.
  std::vector<std::string> running_of(const std::string& owner) {
    pqxx::nontransaction tx(conn_);
    auto rows = tx.exec_params(
        "SELECT id FROM " + table(tx, "workflows") + " WHERE owner = $1 AND status = 'running'",
        owner);
    std::vector<std::string> out;
    for (const auto& row : rows)
      out.push_back(row[0].as<std::string>());
    return out;
  }
  /// The mediator that owns (or last owned) workflow `id`.
  std::string owner_of(const std::string& id) {
    pqxx::nontransaction tx(conn_);
    auto rows =
        tx.exec_params("SELECT owner FROM " + table(tx, "workflows") + " WHERE id = $1", id);
    return rows.empty() ? "" : rows[0][0].as<std::string>();
  }
  /// The `resumed` records of these workflows.
  std::int64_t resumed(const std::vector<std::string>& ids) {
    std::string array = "{";
    for (const std::string& id : ids)
      array += (array.size() > 1 ? "," : "") + ("\"" + id + "\"");
    array += "}";
    pqxx::nontransaction tx(conn_);
    auto rows = tx.exec_params("SELECT count(*) FROM " + table(tx, "events") +
                                   " WHERE type = 'resumed' AND workflow_id = ANY($1::text[])",
                               array);
    return rows[0][0].as<std::int64_t>();
  }
  struct Timeline {
    std::int64_t records = 0;
    std::int64_t first = 0;  ///< lowest seq
    std::int64_t last = 0;   ///< highest seq
    std::int64_t terminal = 0;
  };
  /// Per workflow: its records, their seq range and its terminal records.
  std::map<std::string, Timeline> timelines() {
    pqxx::nontransaction tx(conn_);
    auto rows = tx.exec(
        "SELECT workflow_id, count(*), min(seq), max(seq), count(*) FILTER (WHERE type IN "
        "('completed', 'failed', 'cancelled', 'needs_attention')) FROM " +
        table(tx, "events") + " GROUP BY workflow_id");
    std::map<std::string, Timeline> out;
    for (const auto& row : rows) {
      out[row[0].as<std::string>()] = {row[1].as<std::int64_t>(), row[2].as<std::int64_t>(),
                                       row[3].as<std::int64_t>(), row[4].as<std::int64_t>()};
    }
    return out;
  }

 private:
  std::string table(pqxx::nontransaction& tx, const char* name) {
    return tx.quote_name(schema_) + "." + name;
  }
  pqxx::connection conn_;
  std::string schema_;
};

/// N mediators on one journal schema with a short lease, the worker, and which mediators answer.
struct Fleet {
  explicit Fleet(const std::string& name, std::size_t n = kMediators)
      : h(name,
          {{"WONDERLAND_JOURNAL_URL", schema.url()},
           {"WONDERLAND_JOURNAL_SCHEMA", schema.name()},
           {"WONDERLAND_JOURNAL_LEASE_MS", std::to_string(kLease.count())}},
          n),
        db(schema),
        up(n) {
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back(new_uuid());
      h.set_mediator_env(i, "WONDERLAND_MEDIATOR_ID", ids[i]);
    }
  }
  void start_all() {
    h.start_worker();
    for (std::size_t i = 0; i < ids.size(); ++i)
      start(i);
  }
  void start(std::size_t i) {
    h.start_mediator(i);
    up[i] = true;
  }
  /// The first mediator that is up, from `from` on (round-robin); waits while none is.
  std::size_t live(std::size_t from) {
    for (;;) {
      for (std::size_t k = 0; k < up.size(); ++k) {
        if (up[(from + k) % up.size()])
          return (from + k) % up.size();
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  json metrics(std::size_t i) {
    auto r = h.get("/api/metrics", h.token(), i);
    return r.status == 200 ? r.json()["workflows"] : json();
  }

  testing::ScopedSchema schema{"failover"};
  Harness h;
  JournalDb db;
  std::vector<std::string> ids;
  std::deque<std::atomic<bool>> up;
};

/// Kills (SIGKILL, or SIGSTOP when `freeze`) mediator `i` while it runs workflows, and returns
/// the time until another mediator wrote `resumed` for one of them (nullopt: none in 15 s).
std::optional<milliseconds> disrupt(Fleet& f, std::size_t i, bool freeze) {
  std::vector<std::string> owned;
  testing::eventually(
      [&] {
        owned = f.db.running_of(f.ids[i]);
        return owned.size() >= 2;
      },
      10s);
  EXPECT_FALSE(owned.empty()) << "mediator " << i << " ran no workflow when it was stopped";
  const std::int64_t before = f.db.resumed(owned);
  f.up[i] = false;
  const auto t0 = Clock::now();
  if (freeze)
    f.h.pause_mediator(i);
  else
    f.h.kill_mediator(i);
  if (!testing::eventually([&] { return f.db.resumed(owned) > before; }, 15s))
    return std::nullopt;
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  std::printf("mediator %zu %s with %zu running workflow(s): taken over after %lld ms\n", i,
              freeze ? "frozen" : "killed", owned.size(), static_cast<long long>(took.count()));
  std::fflush(stdout);
  return took;
}

/// Starts the plans in order, round-robin over the mediators that are up; a start whose answer
/// was lost goes again (same id) to the next one, and then starts or finds it (409). Ends early
/// when `stop` is set.
void start_stream(Fleet& f, const std::vector<Plan>& plans, std::atomic<std::size_t>& next,
                  const std::atomic<bool>& stop) {
  std::size_t turn = 0;
  int refused = 0;
  while (next < plans.size() && !stop) {
    const Plan& p = plans[next];
    const std::size_t i = f.live(turn++);
    int status = 0;
    try {
      status = f.h.start("test_five_step", p.input, p.id, i).status;
    } catch (const std::exception&) {
      continue;  // it went down
    }
    if (status != 202 && status != 409) {
      ASSERT_LT(++refused, 100) << p.id << ": " << status;
      std::this_thread::sleep_for(20ms);
      continue;
    }
    ++next;
    std::this_thread::sleep_for(kStartGap);
  }
}

/// Waits until `n` workflows were started (or the stream ended).
void wait_started(std::atomic<std::size_t>& next, std::size_t n) {
  testing::eventually([&] { return next >= n; }, 60s);
}

/// The frozen mediator `i`, let go on: it renews, finds its workflows lost and drops them.
void thaw_and_check_fenced(Fleet& f, std::size_t i) {
  f.h.resume_mediator(i);
  json m;
  const bool dropped = testing::eventually(
      [&] {
        try {
          m = f.metrics(i);
        } catch (const std::exception&) {
          return false;
        }
        return m.value("lost", 0) > 0;
      },
      15s);
  ASSERT_TRUE(dropped) << "mediator " << i << " did not drop its lost workflows: " << m.dump()
                       << f.h.mediator_log(i);
  std::printf("mediator %zu thawed: lost %d workflow(s)\n", i, m.value("lost", 0));
  auto ready = f.h.get("/readyz", "", i);
  EXPECT_EQ(ready.status, 200) << ready.body << f.h.mediator_log(i);
  f.up[i] = true;
}

/// Keys of effects a workflow's timeline says must exist (`expected`) or may exist (`allowed`:
/// steps that stopped retrying, with an uncertain outcome, compensated as in doubt).
struct Keys {
  std::set<std::string> expected;
  std::set<std::string> allowed;
};

/// Checks that the workflow ended as planned and collects its effect keys.
void check_workflow(const Plan& p, const json& view, Keys& keys) {
  std::set<std::string> succeeded, compensated, in_doubt;
  int terminal = 0;
  for (const json& r : view["timeline"]) {
    const std::string type = r.value("type", "");
    const std::string step = r.value("step", "");
    terminal += is_terminal(r) ? 1 : 0;
    if (std::find(kSteps.begin(), kSteps.end(), step) == kSteps.end())
      continue;
    if (type == "step_succeeded")
      succeeded.insert(step);
    if (type == "compensation_succeeded")
      compensated.insert(step);
    if (type == "step_failed" &&
        (r["data"]["error"].value("retryable", false) || r["data"].value("in_doubt", false))) {
      keys.allowed.insert(p.id + ":" + step);
    }
    if (type == "step_failed" && r["data"].value("in_doubt", false))
      in_doubt.insert(step);
  }
  EXPECT_EQ(terminal, 1) << p.id << "\n" << view.dump(2);
  for (const auto& s : succeeded)
    keys.expected.insert(p.id + ":" + s);
  for (const auto& s : compensated)
    keys.expected.insert(p.id + ":" + s + ":compensate");
  const std::string status = view.value("status", "");
  if (p.fails_at.empty()) {
    EXPECT_EQ(status, "completed") << p.id << "\n" << view.dump(2);
    EXPECT_EQ(succeeded.size(), kSteps.size()) << p.id;
    return;
  }
  EXPECT_EQ(status, "failed") << p.id << "\n" << view.dump(2);
  std::set<std::string> to_undo = succeeded;
  to_undo.insert(in_doubt.begin(), in_doubt.end());
  EXPECT_EQ(compensated, to_undo) << p.id << "\n" << view.dump(2);
  EXPECT_FALSE(succeeded.count(p.fails_at)) << p.id;
}

/// At the worker every effect happened once, those the timelines require and no other.
void check_effects(Harness& h, const Keys& keys) {
  std::map<std::string, int> count;
  for (const Effect& e : h.effects())
    ++count[e.key];
  for (const auto& key : keys.expected)
    EXPECT_EQ(count.count(key), 1u) << "missing effect " << key;
  for (const auto& [key, n] : count) {
    EXPECT_EQ(n, 1) << "effect " << key << " happened " << n << " times";
    EXPECT_TRUE(keys.expected.count(key) != 0 || keys.allowed.count(key) != 0)
        << "unexpected effect " << key;
  }
  std::int64_t suppressed = 0;
  for (const auto& [key, n] : h.suppressed())
    suppressed += n;
  std::printf("worker: %zu effects, %lld duplicate deliveries suppressed\n", count.size(),
              static_cast<long long>(suppressed));
}

/// In the journal every workflow has one terminal record and seqs 1..n without a gap.
void check_journal(Fleet& f, const std::vector<Plan>& plans) {
  auto timelines = f.db.timelines();
  EXPECT_EQ(timelines.size(), plans.size());
  for (const Plan& p : plans) {
    auto it = timelines.find(p.id);
    ASSERT_NE(it, timelines.end()) << p.id;
    const JournalDb::Timeline& t = it->second;
    EXPECT_EQ(t.terminal, 1) << p.id;
    EXPECT_EQ(t.first, 1) << p.id;
    EXPECT_EQ(t.last, t.records) << p.id << ": seq has a gap";
  }
}

/// Waits until every workflow settled (reading through the mediators in turn) and checks how.
Keys settle_and_check(Fleet& f, const std::vector<Plan>& plans) {
  Keys keys;
  std::size_t turn = 0;
  for (const Plan& p : plans) {
    json view = f.h.wait_settled(p.id, 60s, f.live(turn++));
    EXPECT_FALSE(view.is_null()) << p.id << " did not settle";
    if (!view.is_null())
      check_workflow(p, view, keys);
  }
  return keys;
}

/// The disruptions, while the stream of starts goes on; returns the takeover times.
std::vector<milliseconds> disrupt_all(Fleet& f, std::atomic<std::size_t>& next) {
  std::vector<milliseconds> times;
  auto measured = [&](std::optional<milliseconds> t, const char* what) {
    EXPECT_TRUE(t.has_value()) << "no takeover after " << what;
    if (t) {
      EXPECT_LT(*t, kTakeoverLimit) << what;
      times.push_back(*t);
    }
  };
  wait_started(next, kWorkflows / 5);
  measured(disrupt(f, 0, false), "the kill of mediator 0");
  wait_started(next, 2 * kWorkflows / 5);
  measured(disrupt(f, 1, false), "the kill of mediator 1 (mediator 0 down)");
  f.start(0);  // the same id, free once its heartbeat is older than a lease
  f.ids[1] = new_uuid();
  f.h.set_mediator_env(1, "WONDERLAND_MEDIATOR_ID", f.ids[1]);
  f.start(1);
  wait_started(next, 3 * kWorkflows / 5);
  const auto frozen = Clock::now();
  measured(disrupt(f, 2, true), "the freeze of mediator 2");
  std::this_thread::sleep_until(frozen + 2 * kLease);  // frozen for longer than a lease
  thaw_and_check_fenced(f, 2);
  return times;
}

TEST(MediatorFailover, OthersTakeOverKilledAndFrozenMediatorsAndEveryEffectHappensOnce) {
  const auto begin = Clock::now();
  Fleet f("failover");
  f.start_all();
  std::mt19937 rng(std::random_device{}());
  std::vector<Plan> plans;
  for (std::size_t i = 0; i < kWorkflows; ++i)
    plans.push_back(make_plan(i, rng));
  std::atomic<std::size_t> next{0};
  const std::atomic<bool> never{false};
  std::thread starter([&] { start_stream(f, plans, next, never); });
  const std::vector<milliseconds> times = disrupt_all(f, next);
  starter.join();
  ASSERT_EQ(next, plans.size());
  Keys keys = settle_and_check(f, plans);

  const json frozen = f.metrics(2);
  EXPECT_GT(frozen.value("taken_over", 0), 0) << frozen.dump();  // it ran alone for a while
  auto prometheus = f.h.get("/metrics", f.h.token(), 2);
  EXPECT_NE(prometheus.body.find("wonderland_workflows_lost_total "), std::string::npos);
  EXPECT_NE(prometheus.body.find("wonderland_workflows_taken_over_total "), std::string::npos);
  auto mediators = f.h.get("/api/mediators", f.h.token(), 0);
  EXPECT_EQ(mediators.status, 200) << mediators.body;
  for (const std::string& id : f.ids)
    EXPECT_NE(mediators.body.find(id), std::string::npos) << id << " not in " << mediators.body;

  // Let late duplicate deliveries finish at the worker before counting.
  for (std::size_t i = 0; i < kMediators; ++i)
    EXPECT_EQ(f.h.stop_mediator(i), 0) << f.h.mediator_log(i);
  ASSERT_EQ(f.h.stop_worker(), 0) << f.h.worker_log();
  check_journal(f, plans);
  check_effects(f.h, keys);
  long long worst = 0;
  for (milliseconds t : times)
    worst = std::max(worst, static_cast<long long>(t.count()));
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - begin);
  std::printf(
      "%zu workflows over %zu mediators, %zu takeovers (worst %lld ms, lease %lld ms); "
      "%.1f s\n",
      plans.size(), kMediators, times.size(), worst, static_cast<long long>(kLease.count()),
      static_cast<double>(elapsed.count()) / 1000.0);
  EXPECT_LT(elapsed, 90s);
}

/// Launches mediator `i` and waits until it exits; returns its exit status and log.
std::pair<int, std::string> refused_start(Harness& h, std::size_t i) {
  h.launch_mediator(i);
  EXPECT_TRUE(testing::eventually([&] { return !h.mediator_running(i); }, 30s))
      << "the mediator did not exit: " << h.mediator_log(i);
  return {h.mediator_exit_status(i), h.mediator_log(i)};
}

TEST(MediatorFailover, RefusesAnUnreachableJournal) {
  Harness h("fo-unreachable",
            {{"WONDERLAND_JOURNAL_URL", "postgresql://wonderland@127.0.0.1:1/wonderland"},
             {"WONDERLAND_MEDIATOR_ID", new_uuid()}});
  auto [status, log] = refused_start(h, 0);
  EXPECT_NE(status, 0) << log;
  EXPECT_NE(log.find("journal"), std::string::npos) << log;
}

TEST(MediatorFailover, RefusesAnIdInUseByALiveMediator) {
  Fleet f("fo-sameid", 2);
  // No worker here: readiness must not wait for its consumer.
  f.h.set_mediator_env(0, "WONDERLAND_READYZ_REQUIRE_CONSUMERS", "0");
  f.h.set_mediator_env(1, "WONDERLAND_MEDIATOR_ID", f.ids[0]);
  f.start(0);
  auto [status, log] = refused_start(f.h, 1);
  EXPECT_NE(status, 0) << log;
  EXPECT_NE(log.find("in use by a live mediator"), std::string::npos) << log;
  EXPECT_EQ(f.h.stop_mediator(0), 0) << f.h.mediator_log(0);
}

/// The effects of workflow `id` at the worker, each key once; returns how often each happened.
std::map<std::string, int> effects_once(Harness& h, const std::string& id) {
  std::map<std::string, int> count;
  for (const Effect& e : h.effects(id))
    ++count[e.key];
  for (const auto& [key, n] : count)
    EXPECT_EQ(n, 1) << "effect " << key << " happened " << n << " times";
  return count;
}

/// Starts a five-step workflow on mediator `i` whose `charge` takes `charge_ms`, and waits until
/// `reserve` succeeded (so `charge` is in flight and `reserve` has something to undo).
std::string start_slow(Fleet& f, std::size_t i, int charge_ms) {
  const std::string id = "fw-" + new_uuid().substr(0, 12);
  auto started =
      f.h.start("test_five_step", {{"customer", "c"}, {"slow_ms", {{"charge", charge_ms}}}}, id, i);
  EXPECT_EQ(started.status, 202) << started.body;
  json view = f.h.wait_for(
      id, [](const json& v) { return !records(v, {"step_succeeded"}).empty(); }, 10s, i);
  EXPECT_FALSE(view.is_null()) << id << " did not get past reserve";
  return id;
}

/// Checks a workflow cancelled while `charge` ran: cancelled once, with the reason, and
/// `reserve` undone exactly once at the worker.
void check_cancelled(Fleet& f, const std::string& id, const std::string& reason, std::size_t i) {
  json view = f.h.wait_settled(id, 30s, i);
  ASSERT_FALSE(view.is_null()) << id << " did not settle";
  EXPECT_EQ(view.value("status", ""), "cancelled") << view.dump(2);
  auto asked = records(view, {"cancel_requested"});
  ASSERT_EQ(asked.size(), 1u) << view.dump(2);
  EXPECT_EQ(asked[0]["data"].value("reason", ""), reason);
  EXPECT_EQ(records(view, {"cancelled", "completed", "failed", "needs_attention"}).size(), 1u);
  auto count = effects_once(f.h, id);
  EXPECT_EQ(count.count(id + ":reserve:compensate"), 1u) << view.dump(2);
}

TEST(MediatorForwarding, CancelAndRetryThroughANonOwnerAreCarriedOutByTheOwner) {
  Fleet f("fo-forward", 3);
  f.start_all();

  // Cancel: started on mediator 0, cancelled through mediator 1.
  const std::string running = start_slow(f, 0, 2500);
  auto owned = f.db.running_of(f.ids[0]);
  ASSERT_NE(std::find(owned.begin(), owned.end(), running), owned.end());
  auto r = f.h.post("/api/workflows/" + running + "/cancel", {{"reason", "changed my mind"}},
                    f.h.token(), 1);
  ASSERT_EQ(r.status, 202) << r.body << f.h.mediator_log(1);
  check_cancelled(f, running, "changed my mind", 2);
  EXPECT_EQ(f.db.owner_of(running), f.ids[0]);  // carried out by the owner, not taken over
  // A settled workflow cannot be cancelled again, wherever it is asked.
  r = f.h.post("/api/workflows/" + running + "/cancel", json::object(), f.h.token(), 2);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("cancelled"), std::string::npos) << r.body;

  // Retry: failed on mediator 0 (confirm refuses in run 0), retried through mediator 2.
  const std::string failed = "fw-" + new_uuid().substr(0, 12);
  ASSERT_EQ(
      f.h.start("test_five_step", {{"customer", "c"}, {"fail_runs", {{"confirm", 1}}}}, failed, 0)
          .status,
      202);
  json view = f.h.wait_settled(failed, 30s, 1);
  ASSERT_EQ(view.value("status", ""), "failed") << view.dump(2);
  r = f.h.post("/api/workflows/" + failed + "/retry", json::object(), f.h.token(), 2);
  ASSERT_EQ(r.status, 202) << r.body << f.h.mediator_log(2);
  view = f.h.wait_for(
      failed, [](const json& v) { return v.value("status", "") == "completed"; }, 30s, 1);
  ASSERT_FALSE(view.is_null()) << f.h.workflow(failed, 1).dump(2);
  EXPECT_EQ(records(view, {"retry_requested"}).size(), 1u);
  EXPECT_EQ(f.db.owner_of(failed), f.ids[0]);
  effects_once(f.h, failed);
  // The owner's refusal comes back as it is: a completed workflow cannot be retried.
  r = f.h.post("/api/workflows/" + failed + "/retry", json::object(), f.h.token(), 1);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("only failed and needs_attention"), std::string::npos) << r.body;
  // Unknown workflows are still 404 wherever they are asked.
  EXPECT_EQ(f.h.post("/api/workflows/nope/cancel", json::object(), f.h.token(), 1).status, 404);

  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_EQ(f.h.stop_mediator(i), 0) << f.h.mediator_log(i);
}

TEST(MediatorForwarding, ABulkRetryThroughOneMediatorIsCarriedOutByEachWorkflowsOwner) {
  Fleet f("fo-bulk", 2);
  f.start_all();
  // Failed on mediator 0 (two) and on mediator 1 (one); confirm refuses in run 0.
  std::vector<std::pair<std::string, std::size_t>> failed;
  for (std::size_t owner : {0u, 0u, 1u}) {
    const std::string id = "fw-" + new_uuid().substr(0, 12);
    ASSERT_EQ(
        f.h.start("test_five_step", {{"customer", "c"}, {"fail_runs", {{"confirm", 1}}}}, id, owner)
            .status,
        202);
    failed.emplace_back(id, owner);
  }
  for (const auto& [id, owner] : failed)
    ASSERT_EQ(f.h.wait_settled(id, 30s, owner).value("status", ""), "failed") << id;

  const json body{{"action", "retry"},
                  {"filter", {{"definition", "test_five_step"}, {"status", "failed"}}}};
  auto r = f.h.post("/api/workflows/bulk", body, f.h.token(), 1);
  ASSERT_EQ(r.status, 202) << r.body << f.h.mediator_log(1);
  EXPECT_EQ(r.json().value("matched", 0), 3) << r.body;
  const std::string location = r.header("location");
  json job;
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
    job = f.h.get(location, f.h.token(), 1).json();
    if (job.value("state", "") == "finished")
      break;
  }
  ASSERT_EQ(job.value("state", ""), "finished") << job.dump(2);
  EXPECT_EQ(job.value("succeeded", 0), 3) << job.dump(2);
  EXPECT_EQ(job.value("failed", -1), 0) << job.dump(2);
  // The job lives in the mediator that took it.
  EXPECT_EQ(f.h.get(location, f.h.token(), 0).status, 404);
  for (const auto& [id, owner] : failed) {
    json view = f.h.wait_for(
        id, [](const json& v) { return v.value("status", "") == "completed"; }, 30s, 1);
    ASSERT_FALSE(view.is_null()) << f.h.workflow(id, 1).dump(2);
    EXPECT_EQ(records(view, {"retry_requested"}).size(), 1u);
    EXPECT_EQ(f.db.owner_of(id), f.ids[owner]);  // carried out by its owner, not taken over
    effects_once(f.h, id);
  }
  for (std::size_t i = 0; i < 2; ++i)
    EXPECT_EQ(f.h.stop_mediator(i), 0) << f.h.mediator_log(i);
}

TEST(MediatorForwarding, CancelAndRetryAfterTheOwnerWasKilledAreCarriedOutAfterTakeover) {
  Fleet f("fo-forward-kill", 2);
  f.h.set_mediator_env(1, "WONDERLAND_RPC_TIMEOUT_MS", "1000");
  f.start_all();
  // A workflow that failed on mediator 0, to be retried once mediator 0 is gone.
  const std::string failed = "fw-" + new_uuid().substr(0, 12);
  ASSERT_EQ(
      f.h.start("test_five_step", {{"customer", "c"}, {"fail_runs", {{"confirm", 1}}}}, failed, 0)
          .status,
      202);
  ASSERT_EQ(f.h.wait_settled(failed, 30s, 0).value("status", ""), "failed");
  const std::string id = start_slow(f, 0, 2500);
  f.h.kill_mediator(0);
  // The lease is still live: the request goes to the dead owner, which does not answer.
  auto r = f.h.post("/api/workflows/" + id + "/cancel", {{"reason", "owner gone"}}, f.h.token(), 1);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("did not answer"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"retryable\":true"), std::string::npos) << r.body;
  // Once the lease expired, mediator 1 takes the workflow over and cancels it.
  std::this_thread::sleep_for(kLease);
  r = f.h.post("/api/workflows/" + id + "/cancel", {{"reason", "owner gone"}}, f.h.token(), 1);
  ASSERT_EQ(r.status, 202) << r.body << f.h.mediator_log(1);
  check_cancelled(f, id, "owner gone", 1);
  json view = f.h.workflow(id, 1);
  EXPECT_FALSE(records(view, {"resumed"}).empty()) << view.dump(2);
  EXPECT_EQ(f.db.owner_of(id), f.ids[1]);
  // The settled workflow's owner is gone too: mediator 1 claims it and retries it itself.
  r = f.h.post("/api/workflows/" + failed + "/retry", json::object(), f.h.token(), 1);
  ASSERT_EQ(r.status, 202) << r.body;
  view = f.h.wait_for(
      failed, [](const json& v) { return v.value("status", "") == "completed"; }, 30s, 1);
  ASSERT_FALSE(view.is_null()) << f.h.workflow(failed, 1).dump(2);
  EXPECT_EQ(f.db.owner_of(failed), f.ids[1]);
  effects_once(f.h, failed);
  EXPECT_EQ(f.h.stop_mediator(1), 0) << f.h.mediator_log(1);
}

TEST(MediatorForwarding, AMalformedControlRequestIsDeadLetteredAndTheMediatorServesOn) {
  Fleet f("fo-hostile", 1);
  f.start_all();
  messaging::ConnectionOptions o;
  o.url = testing::amqp_url();
  o.service = "hostile-peer";
  messaging::Connection peer(o);
  const messaging::QueueName control{f.h.prefix() + "mediator.control." + f.ids[0]};
  const messaging::QueueName dead{f.h.prefix() + "mediator.control.dead"};
  messaging::Outgoing poison{messaging::exchanges::kDefault, control.str(),
                             messaging::Envelope::make("mediator.cancel", json::object())};
  poison.raw_body = "{\"workflow_id\": ";
  ASSERT_TRUE(peer.publish(poison).get().ok());

  // Kept, with its reason, in the durable queue shared by all control queues.
  std::optional<messaging::RawMessage> kept;
  ASSERT_TRUE(testing::eventually([&] { return (kept = peer.get(dead)).has_value(); }, 10s))
      << f.h.mediator_log(0);
  EXPECT_EQ(kept->body, "{\"workflow_id\": ");
  EXPECT_EQ(kept->string_headers["x-wonderland-reason"],
            "malformed message: body is not valid JSON");
  EXPECT_EQ(kept->string_headers["x-wonderland-queue"], control.str());

  // The mediator serves on: a workflow runs to the end.
  const std::string id = "fw-" + new_uuid().substr(0, 12);
  ASSERT_EQ(f.h.start("test_five_step", {{"customer", "c"}}, id, 0).status, 202);
  EXPECT_EQ(f.h.wait_settled(id, 30s, 0).value("status", ""), "completed");
  EXPECT_EQ(f.h.stop_mediator(0), 0) << f.h.mediator_log(0);
  peer.delete_queue(dead);
}

/// The takeover time over many kills: WONDERLAND_FAILOVER_KILLS=N kills a busy mediator (in
/// turn, restarted under a new id) N times while workflows stream in, and prints every time, the
/// median and the worst.
TEST(FailoverTakeover, Times) {
  const char* kills_env = std::getenv("WONDERLAND_FAILOVER_KILLS");
  if (kills_env == nullptr || std::atoi(kills_env) <= 0)
    GTEST_SKIP() << "set WONDERLAND_FAILOVER_KILLS=N to measure N takeovers";
  const std::size_t kills = static_cast<std::size_t>(std::atoi(kills_env));
  Fleet f("fo-times");
  f.start_all();
  std::mt19937 rng(std::random_device{}());
  std::vector<Plan> plans;
  for (std::size_t i = 0; i < 50 * kills; ++i)
    plans.push_back(make_plan(i, rng));
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::thread starter([&] { start_stream(f, plans, next, stop); });
  std::vector<milliseconds> times;
  for (std::size_t k = 0; k < kills; ++k) {
    const std::size_t victim = k % kMediators;
    auto t = disrupt(f, victim, false);
    EXPECT_TRUE(t.has_value()) << "kill " << k << ": no takeover";
    if (t)
      times.push_back(*t);
    f.ids[victim] = new_uuid();
    f.h.set_mediator_env(victim, "WONDERLAND_MEDIATOR_ID", f.ids[victim]);
    f.start(victim);
  }
  stop = true;
  starter.join();
  ASSERT_FALSE(times.empty());
  std::sort(times.begin(), times.end());
  const auto median = times.size() % 2 == 1
                          ? times[times.size() / 2]
                          : (times[times.size() / 2 - 1] + times[times.size() / 2]) / 2;
  std::printf(
      "takeover over %zu kills (lease %lld ms): median %lld ms, worst %lld ms, best %lld "
      "ms\n",
      times.size(), static_cast<long long>(kLease.count()), static_cast<long long>(median.count()),
      static_cast<long long>(times.back().count()), static_cast<long long>(times.front().count()));
}

}  // namespace
}  // namespace wonderland::mediator_test
