// The Journal contract (journal_contract.hpp), run against the SQLite and the in-memory
// journals, and the SQLite journal's own behaviour.
#include <gtest/gtest.h>

#include "journal_contract.hpp"
#include "journal_retention.hpp"
#include "support.hpp"
#include "wonderland/workflow/sqlite_journal.hpp"

namespace wonderland::workflow {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Journals, JournalContract,
    ::testing::Values(Factory{"sqlite",
                              [](const std::filesystem::path& p) {
                                return open_sqlite_journal({.path = p, .full_sync = false}).value();
                              }},
                      Factory{"memory",
                              [](const std::filesystem::path&) -> std::unique_ptr<Journal> {
                                return std::make_unique<MemoryJournal>();
                              }}),
    [](const ::testing::TestParamInfo<Factory>& param) { return param.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Journals, JournalRetention,
    ::testing::Values(Factory{"sqlite",
                              [](const std::filesystem::path& p) {
                                return open_sqlite_journal({.path = p, .full_sync = false}).value();
                              }}),
    [](const ::testing::TestParamInfo<Factory>& param) { return param.param.name; });

TEST(SqliteJournal, PersistsAcrossReopenAndLocksTheFile) {
  TempDir dir;
  auto path = dir.path() / "j.db";
  {
    auto j = open_sqlite_journal({.path = path}).value();
    ASSERT_TRUE(appended(*j, {started("w", "d", "2026-01-01T00:00:00.000Z")}));
    auto second = open_sqlite_journal({.path = path});
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, codes::kFailedPrecondition);
  }
  auto j = open_sqlite_journal({.path = path}).value();
  auto h = j->history("w");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->records.size(), 1u);
  // A record for a workflow the journal never saw start is refused, and the journal then
  // refuses everything (the engine stops; a restart recovers).
  EXPECT_FALSE(j->append_and_wait(batch({rec("ghost", 2, events::kStepStarted)})).ok());
  EXPECT_FALSE(j->append_and_wait(batch({rec("w", 2, events::kStepStarted)})).ok());
  EXPECT_EQ(open_sqlite_journal({.path = ""}).error().code, codes::kInvalidArgument);
}

TEST(SqliteJournal, CreatesTheFoldersOfItsPath) {
  TempDir dir;
  auto path = dir.path() / "fresh" / "mediator" / "journal.db";
  auto j = open_sqlite_journal({.path = path});
  ASSERT_TRUE(j.ok()) << j.error().message;
  ASSERT_TRUE(appended(**j, {started("w", "d", "2026-01-01T00:00:00.000Z")}));
  EXPECT_TRUE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace wonderland::workflow
