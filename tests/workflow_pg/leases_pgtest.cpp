// Ownership of workflows by lease and fencing: two PostgreSQL journals (two mediators) on one
// schema. Leases are short (hundreds of milliseconds) so that expiry takes a short sleep.
#include <gtest/gtest.h>

#include <chrono>
#include <pqxx/pqxx>
#include <thread>

#include "journal_records.hpp"
#include "pg_connection.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/postgres.hpp"
#include "wonderland/workflow_pg/pg_journal.hpp"

namespace wonderland::workflow {
namespace {

using std::chrono::milliseconds;

class Leases : public ::testing::Test {
 protected:
  std::unique_ptr<PgJournal> open(const std::string& id, milliseconds lease = milliseconds(300)) {
    auto j = open_pg_journal(
        {.url = schema_.url(), .schema = schema_.name(), .instance_id = id, .lease = lease});
    EXPECT_TRUE(j.ok()) << j.error().message;
    return std::move(j).value();
  }
  /// Runs `sql` in the test's schema and returns the first column of the first row.
  std::string query(const std::string& sql) {
    pqxx::connection conn(schema_.url());
    pqxx::work tx(conn);
    tx.exec("SET search_path = " + tx.quote_name(schema_.name()));
    auto rows = tx.exec(sql);
    tx.commit();
    return rows.empty() ? "" : rows[0][0].as<std::string>();
  }
  static void sleep_past(milliseconds lease) { std::this_thread::sleep_for(lease + lease / 6); }

  wonderland::testing::ScopedSchema schema_{"leases"};
  std::string a_id_ = new_uuid();
  std::string b_id_ = new_uuid();
};

TEST_F(Leases, AnotherMediatorTakesOverAnExpiredWorkflowAndFencesTheFirst) {
  auto a = open(a_id_);
  auto b = open(b_id_);
  ASSERT_TRUE(appended(
      *a, {started("w", "d", "2026-01-01T00:00:00.000Z"), rec("w", 2, events::kStepStarted)}));
  EXPECT_EQ(query("SELECT owner || ':' || fence FROM workflows"), a_id_ + ":1");
  auto early = b->claim_expired();
  ASSERT_TRUE(early.ok()) << early.error().message;
  EXPECT_TRUE(early->empty());  // A's lease is valid

  sleep_past(milliseconds(300));  // A does not renew
  auto taken = b->claim_expired();
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].summary.id, "w");
  EXPECT_EQ((*taken)[0].records.size(), 2u);
  EXPECT_EQ(query("SELECT owner || ':' || fence FROM workflows"), b_id_ + ":2");
  ASSERT_TRUE(b->renew().ok());  // B did not renew during the sleep either
  EXPECT_TRUE(b->owns("w"));

  // A's write is dropped, not failed; A learns that it lost the workflow.
  ASSERT_TRUE(appended(*a, {rec("w", 3, events::kStepSucceeded)}));
  EXPECT_FALSE(a->owns("w"));
  EXPECT_EQ(a->take_lost(), std::vector<std::string>{"w"});
  EXPECT_TRUE(a->take_lost().empty());
  ASSERT_TRUE(a->renew().ok());  // renewing does not give it back
  EXPECT_FALSE(a->owns("w"));

  ASSERT_TRUE(appended(*b, {rec("w", 3, events::kStepFailed)}));
  auto h = b->history("w");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->records.size(), 3u);
  EXPECT_EQ(h->records[2].type, events::kStepFailed);
  EXPECT_EQ(a->stats().records, 2u);  // the dropped record was not counted

  // (workflow_id, seq) is the key: a second record 3 fails B's journal.
  EXPECT_FALSE(b->append_and_wait(batch({rec("w", 3, events::kStepSucceeded)})).ok());
  EXPECT_EQ(b->history("w")->records.size(), 3u);
}

TEST_F(Leases, RenewKeepsLeasesAndFindsLostWorkflows) {
  auto a = open(a_id_);
  auto b = open(b_id_);
  ASSERT_TRUE(appended(*a, {started("w", "d", "2026-01-01T00:00:00.000Z")}));
  for (int i = 0; i < 4; ++i) {  // 400 ms, longer than the lease
    std::this_thread::sleep_for(milliseconds(100));
    ASSERT_TRUE(a->renew().ok());
  }
  EXPECT_TRUE(b->claim_expired()->empty());
  EXPECT_TRUE(a->owns("w"));

  sleep_past(milliseconds(300));
  ASSERT_EQ(b->claim_expired()->size(), 1u);
  ASSERT_TRUE(a->renew().ok());  // finds that the row's owner changed
  EXPECT_FALSE(a->owns("w"));
  EXPECT_EQ(a->take_lost(), std::vector<std::string>{"w"});
}

TEST_F(Leases, OwnsNothingOnceRenewalIsLate) {
  const milliseconds lease(600);
  auto a = open(a_id_, lease);
  ASSERT_TRUE(appended(*a, {started("w", "d", "2026-01-01T00:00:00.000Z")}));
  ASSERT_TRUE(a->renew().ok());
  EXPECT_TRUE(a->owns("w"));
  std::this_thread::sleep_for(lease - lease / 3 + milliseconds(50));
  EXPECT_FALSE(a->owns("w"));      // must stop before the lease ends
  EXPECT_FALSE(a->owns("other"));  // everything
  // The engine drops every workflow it held; a renewal does not give them back.
  EXPECT_EQ(a->take_lost(), std::vector<std::string>{"w"});
  EXPECT_TRUE(a->take_lost().empty());
  ASSERT_TRUE(a->renew().ok());
  EXPECT_FALSE(a->owns("w"));
  EXPECT_TRUE(a->owns("other"));
  // Its lease was not extended: once it expires, a claim (by this mediator too) takes it back.
  std::this_thread::sleep_for(lease / 3 + milliseconds(50));
  auto again = a->claim_expired();
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].summary.id, "w");
  EXPECT_TRUE(a->owns("w"));
  EXPECT_EQ(query("SELECT owner || ':' || fence FROM workflows"), a_id_ + ":2");
}

TEST_F(Leases, LoadUnfinishedClaimsOnlyOwnOrExpiredRunningWorkflows) {
  auto a = open(a_id_, milliseconds(10000));
  auto b = open(b_id_, milliseconds(10000));
  ASSERT_TRUE(appended(*a, {started("w1", "d", "2026-01-01T00:00:00.000Z"),
                            started("w2", "d", "2026-01-01T00:00:01.000Z"),
                            started("w3", "d", "2026-01-01T00:00:02.000Z"),
                            rec("w3", 2, events::kCompleted, "2026-01-01T00:00:03.000Z",
                                WorkflowStatus::kCompleted)}));
  auto none = b->load_unfinished();
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->empty());
  auto mine = a->load_unfinished();
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].summary.id, "w1");
  EXPECT_EQ((*mine)[1].summary.id, "w2");
  EXPECT_EQ(query("SELECT fence FROM workflows WHERE id = 'w1'"), "2");
  // A still writes with the new fence.
  ASSERT_TRUE(appended(*a, {rec("w1", 2, events::kStepStarted)}));
  EXPECT_TRUE(a->owns("w1"));
  EXPECT_EQ(a->history("w1")->records.size(), 2u);

  auto list = b->mediators();
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 2u);
  for (const MediatorInfo& m : *list) {
    EXPECT_EQ(m.running, m.instance_id == a_id_ ? 2 : 0);
    EXPECT_EQ(m.heartbeat_at.size(), 24u) << m.heartbeat_at;  // 2026-01-01T00:00:00.000Z
    EXPECT_EQ(m.started_at.back(), 'Z');
  }
}

TEST_F(Leases, SettledWorkflowsAreNotClaimed) {
  auto a = open(a_id_);
  auto b = open(b_id_);
  ASSERT_TRUE(appended(*a, {started("w", "d", "2026-01-01T00:00:00.000Z"),
                            rec("w", 2, events::kFailed, "2026-01-01T00:00:01.000Z",
                                WorkflowStatus::kFailed, {{"reason", "r"}})}));
  sleep_past(milliseconds(300));
  EXPECT_TRUE(b->claim_expired()->empty());
  EXPECT_TRUE(b->load_unfinished()->empty());
}

TEST_F(Leases, ReleaseLetsAnotherMediatorClaimAtOnce) {
  auto a = open(a_id_, milliseconds(10000));
  auto b = open(b_id_, milliseconds(10000));
  ASSERT_TRUE(appended(*a, {started("w", "d", "2026-01-01T00:00:00.000Z")}));
  ASSERT_TRUE(a->release().ok());
  EXPECT_FALSE(a->owns("w"));
  auto taken = b->claim_expired();
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->size(), 1u);
  auto list = b->mediators();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].instance_id, b_id_);
  EXPECT_EQ((*list)[0].running, 1);
  // The id is free again.
  a.reset();
  EXPECT_TRUE(open(a_id_).get() != nullptr);
}

TEST_F(Leases, OpeningRefusesWhatItCannotUse) {
  auto unreachable = open_pg_journal(
      {.url = "postgresql://wonderland@127.0.0.1:1/wonderland", .instance_id = a_id_});
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.error().code, codes::kUnavailable);

  auto a = open(a_id_, milliseconds(10000));
  auto twin =
      open_pg_journal({.url = schema_.url(), .schema = schema_.name(), .instance_id = a_id_});
  ASSERT_FALSE(twin.ok());
  EXPECT_EQ(twin.error().code, codes::kFailedPrecondition);
  EXPECT_NE(twin.error().message.find("in use by a live mediator"), std::string::npos)
      << twin.error().message;

  query("UPDATE journal_meta SET value = '99' WHERE key = 'schema_version' RETURNING value");
  auto newer =
      open_pg_journal({.url = schema_.url(), .schema = schema_.name(), .instance_id = b_id_});
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.error().code, codes::kFailedPrecondition);
  EXPECT_NE(newer.error().message.find("newer"), std::string::npos) << newer.error().message;

  EXPECT_EQ(open_pg_journal({.url = schema_.url(), .instance_id = ""}).error().code,
            codes::kInvalidArgument);
  EXPECT_EQ(open_pg_journal({.url = schema_.url(), .schema = "Bad-Name", .instance_id = b_id_})
                .error()
                .code,
            codes::kInvalidArgument);
}

TEST_F(Leases, AnOperatorRetryOfASettledWorkflowIsWrittenByItsLastOwner) {
  auto a = open(a_id_, milliseconds(10000));
  ASSERT_TRUE(appended(*a, {started("w", "d", "2026-01-01T00:00:00.000Z"),
                            rec("w", 2, events::kNeedsAttention, "2026-01-01T00:00:01.000Z",
                                WorkflowStatus::kNeedsAttention, {{"reason", "stuck"}})}));
  ASSERT_TRUE(appended(*a, {rec("w", 3, events::kRetryRequested, "2026-01-01T00:00:02.000Z",
                                WorkflowStatus::kRunning)}));
  EXPECT_TRUE(a->owns("w"));
  EXPECT_TRUE(a->take_lost().empty());
  ASSERT_TRUE(a->renew().ok());
  EXPECT_TRUE(a->owns("w"));
  EXPECT_EQ(a->find("w")->value().status, WorkflowStatus::kRunning);
  EXPECT_EQ(a->history("w")->records.size(), 3u);
}

TEST_F(Leases, ASessionStoppedInsideATransactionLosesItsLocksAndTheWorkflowIsClaimed) {
  auto a = open(a_id_);
  auto b = open(b_id_);
  ASSERT_TRUE(appended(*a, {started("w", "d", "2026-01-01T00:00:00.000Z")}));
  // A session opened as the journal opens its own, stopped between two statements of a
  // transaction that locked the workflow's row: what a mediator frozen (SIGSTOP) while writing
  // leaves behind.
  pg::Connection frozen(schema_.url(), schema_.name(), "wl-journal-writer " + a_id_);
  pqxx::work tx(frozen.get());
  tx.exec("SELECT id FROM workflows WHERE id = 'w' FOR UPDATE");
  sleep_past(milliseconds(300));  // A's lease is over
  auto skipped = b->claim_expired();
  ASSERT_TRUE(skipped.ok()) << skipped.error().message;
  EXPECT_TRUE(skipped->empty());  // a locked row is skipped, not waited for
  // The server ends the idle transaction (idle_in_transaction_session_timeout) and its lock with
  // it: the workflow is claimed within seconds, not when the frozen mediator wakes up.
  EXPECT_TRUE(wonderland::testing::eventually(
      [&] {
        auto taken = b->claim_expired();
        return taken.ok() && taken->size() == 1;
      },
      std::chrono::seconds(6)));
  EXPECT_ANY_THROW(tx.exec("SELECT 1"));  // the frozen session is gone
}

TEST_F(Leases, QueriesAndTheWriterReconnectAfterALostConnection) {
  auto a = open(a_id_, milliseconds(10000));
  ASSERT_TRUE(appended(*a, {started("w", "d", "2026-01-01T00:00:00.000Z")}));
  ASSERT_TRUE(a->find("w").ok());
  query(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name "
      "IN ('wl-journal-writer " +
      a_id_ + "', 'wl-journal-queries " + a_id_ + "')");
  // A query either fails once with `unavailable` (and drops the connection) or reconnects.
  auto first = a->find("w");
  if (!first.ok()) {
    EXPECT_EQ(first.error().code, codes::kUnavailable);
  }
  auto again = a->find("w");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->has_value());
  // The writer opens a new connection and writes the batch once, then goes on.
  ASSERT_TRUE(appended(*a, {rec("w", 2, events::kStepStarted)}));
  ASSERT_TRUE(appended(*a, {rec("w", 3, events::kStepSucceeded)}));
  EXPECT_EQ(query("SELECT string_agg(seq::text, ',' ORDER BY seq) FROM events"), "1,2,3");
  EXPECT_EQ(a->stats().commits, 3u);
}

}  // namespace
}  // namespace wonderland::workflow
