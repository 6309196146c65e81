// The Journal contract (tests/workflow/journal_contract.hpp) run against the PostgreSQL
// journal, each test in a schema of its own.
#include <gtest/gtest.h>

#include "journal_contract.hpp"
#include "journal_retention.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/testing/postgres.hpp"
#include "wonderland/workflow_pg/pg_journal.hpp"

namespace wonderland::workflow {
namespace {

/// A PostgreSQL journal in a fresh schema, dropped after the journal closes.
class SchemaJournal final : public Journal {
 public:
  SchemaJournal()
      : schema_(std::make_unique<wonderland::testing::ScopedSchema>("journal")),
        journal_(open_pg_journal(
                     {.url = schema_->url(), .schema = schema_->name(), .instance_id = new_uuid()})
                     .value()) {}

  void append(RecordBatch records, AppendCallback done) override {
    journal_->append(std::move(records), std::move(done));
  }
  Result<std::vector<WorkflowHistory>> load_unfinished() override {
    return journal_->load_unfinished();
  }
  Result<WorkflowHistory> history(const std::string& id) override { return journal_->history(id); }
  Result<std::optional<WorkflowSummary>> find(const std::string& id) override {
    return journal_->find(id);
  }
  Result<WorkflowPage> list(const WorkflowQuery& query) override { return journal_->list(query); }
  Result<std::size_t> archive_finished(std::chrono::milliseconds age, std::size_t limit) override {
    return journal_->archive_finished(age, limit);
  }
  Result<WorkflowPage> list_archived(const WorkflowQuery& query) override {
    return journal_->list_archived(query);
  }
  JournalStats stats() const override { return journal_->stats(); }
  Result<std::vector<VersionCount>> running_by_version() override {
    return journal_->running_by_version();
  }
  bool owns(const std::string& id) const override { return journal_->owns(id); }

 private:
  std::unique_ptr<wonderland::testing::ScopedSchema> schema_;  // outlives the journal
  std::unique_ptr<PgJournal> journal_;
};

INSTANTIATE_TEST_SUITE_P(
    Journals, JournalContract,
    ::testing::Values(Factory{"postgres",
                              [](const std::filesystem::path&) -> std::unique_ptr<Journal> {
                                return std::make_unique<SchemaJournal>();
                              }}),
    [](const ::testing::TestParamInfo<Factory>& param) { return param.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Journals, JournalRetention,
    ::testing::Values(Factory{"postgres",
                              [](const std::filesystem::path&) -> std::unique_ptr<Journal> {
                                return std::make_unique<SchemaJournal>();
                              }}),
    [](const ::testing::TestParamInfo<Factory>& param) { return param.param.name; });

TEST(PgJournal, SeveralMediatorsSweepOneJournalAtOnceWithoutDuplicates) {
  wonderland::testing::ScopedSchema schema("retention");
  auto open = [&] {
    return open_pg_journal(
               {.url = schema.url(), .schema = schema.name(), .instance_id = new_uuid()})
        .value();
  };
  auto a = open();
  auto b = open();
  constexpr int kOld = 900;
  ASSERT_TRUE(appended(*a, old_workflows("old-", kOld, WorkflowStatus::kFailed)));
  auto sweep = [](PgJournal& j, std::atomic<std::size_t>& total) {
    for (;;) {
      auto moved = j.archive_finished(std::chrono::hours(24), 50);
      EXPECT_TRUE(moved.ok()) << moved.error().message;
      if (!moved.ok() || *moved == 0)
        return;
      total += *moved;
    }
  };
  std::atomic<std::size_t> by_a{0};
  std::atomic<std::size_t> by_b{0};
  std::thread ta([&] { sweep(*a, by_a); });
  std::thread tb([&] { sweep(*b, by_b); });
  ta.join();
  tb.join();
  EXPECT_EQ(by_a + by_b, static_cast<std::size_t>(kOld));
  EXPECT_EQ(all_archived(*b).size(), static_cast<std::size_t>(kOld));
  EXPECT_TRUE(a->list({}).value().items.empty());
  auto h = b->history("old-5");
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_TRUE(h->summary.archived);
  EXPECT_EQ(h->records.size(), 3u);
}

TEST(PgJournal, RefusesAfterARecordOfAnUnknownWorkflow) {
  SchemaJournal j;
  ASSERT_TRUE(appended(j, {started("w", "d", "2026-01-01T00:00:00.000Z")}));
  // As the SQLite journal: the journal then refuses everything (the engine stops).
  EXPECT_EQ(j.append_and_wait(batch({rec("ghost", 2, events::kStepStarted)})).error().code,
            codes::kInternal);
  EXPECT_FALSE(j.append_and_wait(batch({rec("w", 2, events::kStepStarted)})).ok());
  auto h = j.history("w");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->records.size(), 1u);
  EXPECT_EQ(h->records[0].at, "2026-01-01T00:00:00.000Z");
}

TEST(PgJournal, WritesALargeBatchInOneTransactionAndKeepsTheData) {
  SchemaJournal j;
  const json odd = {{"text", "quote \" backslash \\ brace {} comma , newline \n é ✓"},
                    {"n", 12345678901234},
                    {"list", {1, "two", nullptr, 3.5}}};
  std::vector<JournalRecord> records;
  for (int w = 0; w < 400; ++w) {
    const std::string id = "w" + std::to_string(w);
    records.push_back(started(id, "d", "2026-01-01T00:00:00.000Z"));
    for (int seq = 2; seq <= 10; ++seq) {
      JournalRecord r =
          rec(id, seq, events::kStepSucceeded, "2026-01-01T00:00:01.234Z", std::nullopt, odd);
      r.step = "a \"step\", {x}";
      records.push_back(std::move(r));
    }
  }
  ASSERT_TRUE(appended(j, records));
  EXPECT_EQ(j.stats().commits, 1u);
  EXPECT_EQ(j.stats().records, 4000u);
  auto h = j.history("w399");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->records.size(), 10u);
  EXPECT_EQ(h->records[9].data, odd);
  EXPECT_EQ(h->records[9].step, "a \"step\", {x}");
  EXPECT_EQ(h->records[9].at, "2026-01-01T00:00:01.234Z");
  EXPECT_EQ(h->records[9].seq, 10);
}

}  // namespace
}  // namespace wonderland::workflow
