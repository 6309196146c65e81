// Two engines (two mediators) on one PostgreSQL journal: one that stops renewing its leases
// (paused, partitioned) loses its workflows to the other, which finishes them with the same
// idempotency keys, while the first writes nothing and sends nothing more for them.
#include <gtest/gtest.h>

#include <chrono>
#include <pqxx/pqxx>
#include <thread>

#include "support.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/testing/postgres.hpp"
#include "wonderland/workflow_pg/pg_journal.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the workflow test helpers
using std::chrono::milliseconds;

constexpr milliseconds kLease{1500};  // short, yet long enough for a loaded CI machine

/// One mediator: its journal, engine, services (every command lands in `calls`) and events.
struct Mediator {
  std::string id = new_uuid();
  SystemClock clock;
  InProcessTransport transport;
  CallLog calls;
  Parked parked;
  EventLog log;
  std::unique_ptr<PgJournal> journal;
  std::unique_ptr<Engine> engine;

  void boot(const wonderland::testing::ScopedSchema& schema, const DefinitionRegistry& registry) {
    auto opened = open_pg_journal(
        {.url = schema.url(), .schema = schema.name(), .instance_id = id, .lease = kLease});
    if (!opened)
      throw std::runtime_error(opened.error().message);
    journal = std::move(*opened);
    transport.on("svc.a", [this](const Command& c) -> Result<json> {
      calls.add(c);
      return json::object();
    });
    transport.on_async("svc.b", parked.handler(&calls));
    EngineOptions options;
    options.seed = 7;
    options.observers.push_back(log.observer());
    engine = Engine::create(std::move(options), registry, *journal, transport, clock).value();
  }
};

class Takeover : public ::testing::Test {
 protected:
  Takeover() {
    json b = task("b", "svc.b");
    b["timeout_ms"] = 60000;  // the parked commands must not time out during the test
    auto def = parse_definition(workflow("two", json::array({task("a", "svc.a"), b})), "t.json");
    if (!def || !registry_.add(*def))
      throw std::runtime_error("definition refused");
  }

  std::string query(const std::string& sql) {
    pqxx::connection conn(schema_.url());
    pqxx::work tx(conn);
    tx.exec("SET search_path = " + tx.quote_name(schema_.name()));
    auto rows = tx.exec(sql);
    tx.commit();
    return rows.empty() ? "" : rows[0][0].as<std::string>();
  }

  wonderland::testing::ScopedSchema schema_{"takeover"};
  DefinitionRegistry registry_;
};

TEST_F(Takeover, APausedMediatorsWorkflowsFinishElsewhereAndItWritesAndSendsNothingMore) {
  Mediator a;
  Mediator b;
  a.boot(schema_, registry_);
  b.boot(schema_, registry_);
  constexpr int kWorkflows = 5;
  std::vector<std::string> ids;
  for (int i = 0; i < kWorkflows; ++i)
    ids.push_back(a.engine->start({.definition = "two"}).value());
  a.parked.wait_for(kWorkflows);

  // While A renews, B claims nothing, however long it waits.
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(a.engine->maintain_ownership().ok());
    ASSERT_TRUE(b.engine->maintain_ownership().ok());
    std::this_thread::sleep_for(kLease / 3);
  }
  EXPECT_EQ(b.engine->metrics().taken_over, 0u);
  EXPECT_EQ(b.calls.count("svc.b"), 0);

  // A pauses (no renewals); once its leases expire, B takes the workflows over.
  std::this_thread::sleep_for(kLease + kLease / 4);
  const auto taken_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(b.engine->maintain_ownership().ok());
  b.parked.wait_for(kWorkflows);
  EXPECT_LT(std::chrono::steady_clock::now() - taken_at, std::chrono::seconds(5));
  EXPECT_EQ(b.engine->metrics().taken_over, static_cast<std::uint64_t>(kWorkflows));
  // B re-sends the command in flight under A's idempotency keys: the service does it once.
  auto a_keys = a.calls.keys("svc.b");
  auto b_keys = b.calls.keys("svc.b");
  std::sort(a_keys.begin(), a_keys.end());
  std::sort(b_keys.begin(), b_keys.end());
  EXPECT_EQ(a_keys, b_keys);
  for (std::size_t i = 0; i < ids.size(); ++i)
    b.parked.reply("b", json{{"by", "b"}});
  for (const std::string& id : ids)
    EXPECT_EQ(b.log.wait_settled(id).type, events::kCompleted);

  // A wakes up and gets its late replies: nothing of them is written or observed.
  for (std::size_t i = 0; i < ids.size(); ++i)
    a.parked.reply("b", json{{"by", "a"}});
  ASSERT_TRUE(a.engine->maintain_ownership().ok());
  EXPECT_EQ(a.engine->metrics().lost, static_cast<std::uint64_t>(kWorkflows));
  EXPECT_EQ(a.engine->metrics().in_flight, 0);
  for (const std::string& id : ids) {
    EXPECT_EQ(a.log.count(id, events::kStepSucceeded, "b"), 0) << id;
    EXPECT_EQ(query("SELECT count(*) FROM events WHERE workflow_id = '" + id +
                    "' AND type = 'step_succeeded' AND step = 'b'"),
              "1")
        << id;
    EXPECT_EQ(query("SELECT data->'output'->>'by' FROM events WHERE workflow_id = '" + id +
                    "' AND type = 'step_succeeded' AND step = 'b'"),
              "b");
  }
  EXPECT_EQ(query("SELECT count(*) FROM workflows WHERE status = 'completed'"),
            std::to_string(kWorkflows));
  EXPECT_EQ(a.calls.count("svc.b"), kWorkflows);  // only its first attempts, nothing after
}

TEST_F(Takeover, AStoppedMediatorReleasesItsWorkflowsForAnImmediateTakeover) {
  Mediator b;
  b.boot(schema_, registry_);
  std::vector<std::string> ids;
  {
    Mediator a;
    a.boot(schema_, registry_);
    for (int i = 0; i < 3; ++i)
      ids.push_back(a.engine->start({.definition = "two"}).value());
    a.parked.wait_for(3);
    a.engine.reset();
    ASSERT_TRUE(a.journal->release().ok());
  }
  ASSERT_TRUE(b.engine->maintain_ownership().ok());  // no wait for the lease
  b.parked.wait_for(3);
  for (std::size_t i = 0; i < ids.size(); ++i)
    b.parked.reply("b", json::object());
  for (const std::string& id : ids)
    EXPECT_EQ(b.log.wait_settled(id).type, events::kCompleted);
}

TEST_F(Takeover, AWaitStepKeepsItsRecordedEndAcrossATakeover) {
  constexpr std::int64_t kWaitMs = 4000;
  json pause = {{"id", "pause"}, {"kind", "wait"}, {"duration_ms", kWaitMs}};
  auto def = parse_definition(
      workflow("pause", json::array({task("a", "svc.a"), pause, task("c", "svc.a")})), "p.json");
  ASSERT_TRUE(def.ok() && registry_.add(*def).ok());
  Mediator b;
  b.boot(schema_, registry_);
  std::string id;
  std::string until;
  {
    Mediator a;
    a.boot(schema_, registry_);
    id = a.engine->start({.definition = "pause"}).value();
    until = a.log.wait(id, events::kStepStarted, "pause").data.at("wait_until");
    std::this_thread::sleep_for(milliseconds(1500));
    a.engine.reset();
    ASSERT_TRUE(a.journal->release().ok());
  }
  const auto taken_at = std::chrono::steady_clock::now();
  // B renews its leases while the workflow waits, as the mediator does every lease / 3.
  for (int round = 0; round < 30 && b.log.count(id, events::kCompleted) == 0; ++round) {
    ASSERT_TRUE(b.engine->maintain_ownership().ok());
    std::this_thread::sleep_for(kLease / 6);
  }
  EXPECT_EQ(b.log.wait_settled(id).type, events::kCompleted);
  // B ended the wait at the time A recorded (about 2.5 s after the takeover), not after a new 4 s.
  EXPECT_LT(std::chrono::steady_clock::now() - taken_at, milliseconds(kWaitMs - 500));
  EXPECT_GE(std::chrono::system_clock::now(), parse_iso8601(until).value());
  EXPECT_EQ(b.log.count(id, events::kStepStarted, "pause"), 0);
  EXPECT_EQ(b.log.wait(id, events::kStepSucceeded, "pause").data["output"]["waited_until"], until);
  EXPECT_EQ(b.calls.count("svc.a"), 1);  // c only: a was not sent again
}

TEST_F(Takeover, ASignalKeptBeforeItsStepWaitsIsTakenByTheNextOwner) {
  json b = task("b", "svc.b");
  b["timeout_ms"] = 60000;
  json go = {{"id", "go"}, {"kind", "signal"}, {"signal", "go"}, {"timeout_ms", 60000}};
  auto def = parse_definition(workflow("approve", json::array({b, go, task("c", "svc.a")})),
                              "approve.json");
  ASSERT_TRUE(def.ok() && registry_.add(*def).ok());
  Mediator other;
  other.boot(schema_, registry_);
  std::string id;
  {
    Mediator a;
    a.boot(schema_, registry_);
    id = a.engine->start({.definition = "approve"}).value();
    a.parked.wait_for(1);
    // Only the owner records a signal; the other mediator's engine refuses it, retryably.
    Status elsewhere = other.engine->signal(
        {.workflow_id = id, .name = "go", .signal_id = "s-1", .payload = {{"by", "other"}}});
    ASSERT_FALSE(elsewhere.ok());
    EXPECT_EQ(elsewhere.error().code, codes::kUnavailable);
    EXPECT_TRUE(elsewhere.error().retryable);
    // Sent before `go` waits: kept in the journal.
    ASSERT_TRUE(
        a.engine
            ->signal(
                {.workflow_id = id, .name = "go", .signal_id = "s-1", .payload = {{"by", "a"}}})
            .ok());
    a.engine.reset();
    ASSERT_TRUE(a.journal->release().ok());
  }
  ASSERT_TRUE(other.engine->maintain_ownership().ok());
  other.parked.wait_for(1);
  other.parked.reply("b", json::object());
  EXPECT_EQ(other.log.wait_settled(id).type, events::kCompleted);
  EXPECT_EQ(other.log.wait(id, events::kStepSucceeded, "go").data["output"], (json{{"by", "a"}}));
  EXPECT_EQ(other.log.count(id, events::kSignalReceived), 0);  // recorded by a, read back
  // A resend after the end, to the mediator that did not record it, is found in the shared
  // journal and acknowledged again; a new signal is refused: the workflow has ended.
  EXPECT_TRUE(other.engine->signal({.workflow_id = id, .name = "go", .signal_id = "s-1"}).ok());
  Status late = other.engine->signal({.workflow_id = id, .name = "go", .signal_id = "s-2"});
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, codes::kConflict);
}

}  // namespace
}  // namespace wonderland::workflow
