// The Journal contract (journal_contract.hpp), run against the SQLite and the in-memory
// journals, and the SQLite journal's own behaviour.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "journal_contract.hpp"
#include "journal_retention.hpp"
#include "support.hpp"
#include "wonderland/testing/broker.hpp"
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

// A process killed (SIGKILL) in the middle of a sweep: each batch is one transaction, so every
// workflow is afterwards either hot or archived, once, with all its records; the next sweep
// finishes the work. Killed eight times, at different moments.
TEST(SqliteJournal, ASweepKilledMidwayLeavesEveryWorkflowWholeInOnePlace) {
  TempDir dir;
  const auto path = dir.path() / "j.db";
  constexpr int kOld = 12000;
  {
    auto j = open_sqlite_journal({.path = path, .full_sync = false}).value();
    ASSERT_TRUE(appended(*j, old_workflows("old-", kOld, WorkflowStatus::kCompleted)));
  }
  std::size_t archived_before = 0;
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {  // sweeps in small, fully synced batches until killed
      close(ready[0]);
      auto j = open_sqlite_journal({.path = path, .full_sync = true});
      // Ready once the first batch committed, so that the kill always lands after progress, even
      // in a slow (sanitized) build.
      auto first = j.ok() ? j.value()->archive_finished(hours(24), 25) : Result<std::size_t>(0);
      const char c = first.ok() && *first > 0 ? 1 : 0;
      if (write(ready[1], &c, 1) != 1 || c == 0)
        _exit(2);
      for (;;) {
        auto moved = j.value()->archive_finished(hours(24), 25);
        if (!moved.ok() || *moved == 0)
          _exit(moved.ok() ? 0 : 3);
      }
    }
    close(ready[1]);
    char c = 0;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);
    ASSERT_EQ(c, 1) << "the child could not open the journal or sweep its first batch";
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 17 * round));
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "the sweep ended before it was killed (exit " << WEXITSTATUS(status) << ")";

    // The lock died with the process; the journal opens and reads whole.
    auto j = open_sqlite_journal({.path = path, .full_sync = false}).value();
    const std::set<std::string> archived = all_archived(*j);
    const std::set<std::string> hot = all_hot(*j);
    EXPECT_GT(archived.size(), archived_before) << "the killed sweep moved nothing";
    EXPECT_EQ(archived.size() + hot.size(), static_cast<std::size_t>(kOld));
    for (const auto& id : hot)
      EXPECT_FALSE(archived.count(id)) << id << " is both hot and archived";
    archived_before = archived.size();
    for (int i = 0; i < kOld; i += 97) {
      const std::string id = "old-" + std::to_string(i);
      auto h = j->history(id);
      ASSERT_TRUE(h.ok()) << id << ": " << h.error().message;
      EXPECT_EQ(h->summary.archived, archived.count(id) == 1) << id;
      ASSERT_EQ(h->records.size(), 3u) << id;
      expect_same_records(old_workflow(id, WorkflowStatus::kCompleted), h->records);
    }
  }
  auto j = open_sqlite_journal({.path = path, .full_sync = false}).value();
  std::size_t rest = 0;
  for (;;) {
    auto moved = j->archive_finished(hours(24), 500);
    ASSERT_TRUE(moved.ok()) << moved.error().message;
    if (*moved == 0)
      break;
    rest += *moved;
  }
  EXPECT_EQ(rest + archived_before, static_cast<std::size_t>(kOld));
  EXPECT_EQ(all_archived(*j).size(), static_cast<std::size_t>(kOld));
  EXPECT_TRUE(all_hot(*j).empty());
}

TEST(SqliteJournal, CreatesTheFoldersOfItsPath) {
  TempDir dir;
  auto path = dir.path() / "fresh" / "mediator" / "journal.db";
  auto j = open_sqlite_journal({.path = path});
  ASSERT_TRUE(j.ok()) << j.error().message;
  ASSERT_TRUE(appended(**j, {started("w", "d", "2026-01-01T00:00:00.000Z")}));
  EXPECT_TRUE(std::filesystem::exists(path));
}

// Batches appended while write_now() writes wait for it, then go to the writer thread: the one
// that wrote on the caller's thread hands the connection back and wakes the writer for them.
TEST(SqliteJournal, AppendsQueuedDuringWriteNowAreWrittenAfterIt) {
  TempDir dir;
  auto j = open_sqlite_journal({.path = dir.path() / "j.db"}).value();
  // A batch large enough that its commit outlasts the appends below by far.
  std::vector<JournalRecord> big;
  for (int i = 0; i < 50000; ++i)
    big.push_back(started("big-" + std::to_string(i), "d", "2026-01-01T00:00:00.000Z"));
  using Clock = std::chrono::steady_clock;
  constexpr int kAppends = 5;
  wonderland::testing::Latch written;
  std::promise<void> go;
  Clock::time_point appended_at;
  std::thread appender([&] {
    go.get_future().wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (int n = 0; n < kAppends; ++n) {
      j->append(batch({started("small-" + std::to_string(n), "d", "2026-01-01T00:00:01.000Z")}),
                [&](Status st) {
                  EXPECT_TRUE(st.ok()) << st.error().message;
                  written.add();
                });
    }
    appended_at = Clock::now();
  });
  const auto started_at = Clock::now();
  go.set_value();
  std::optional<Status> st = j->write_now(batch(std::move(big)));
  const auto returned_at = Clock::now();
  appender.join();
  ASSERT_TRUE(st.has_value()) << "the journal was idle";
  ASSERT_TRUE(st->ok()) << st->error().message;
  // What this test is about: every append came while write_now() was writing. (Nothing is
  // appended after it, so only write_now() itself can wake the writer thread for them.)
  ASSERT_LT(appended_at, returned_at)
      << "write_now() of 50000 records took only "
      << std::chrono::duration_cast<std::chrono::milliseconds>(returned_at - started_at).count()
      << " ms";
  EXPECT_TRUE(written.wait_for(kAppends, std::chrono::seconds(10)))
      << written.count() << " of " << kAppends << " written";
  EXPECT_TRUE(j->history("small-4").ok());
}

// The commit histogram: cumulative buckets, a quantile interpolated inside its bucket, and the
// difference of two snapshots.
TEST(CommitLatency, BucketsInterpolatesAndSubtracts) {
  using std::chrono::microseconds;
  CommitLatencyRecorder recorder;
  EXPECT_EQ(recorder.snapshot().count, 0u);
  EXPECT_EQ(recorder.snapshot().quantile(0.5), 0.0);
  for (int i = 0; i < 40; ++i)
    recorder.record(microseconds(80));
  for (int i = 0; i < 40; ++i)
    recorder.record(microseconds(180));
  for (int i = 0; i < 20; ++i)
    recorder.record(microseconds(2000));
  const CommitLatency a = recorder.snapshot();
  EXPECT_EQ(a.count, 100u);
  EXPECT_NEAR(a.sum_seconds, 40 * 80e-6 + 40 * 180e-6 + 20 * 2e-3, 1e-9);
  EXPECT_EQ(a.at_most[0], 0u);    // <= 50 us
  EXPECT_EQ(a.at_most[1], 40u);   // <= 100 us
  EXPECT_EQ(a.at_most[2], 40u);   // <= 150 us
  EXPECT_EQ(a.at_most[3], 80u);   // <= 200 us
  EXPECT_EQ(a.at_most[7], 80u);   // <= 1 ms
  EXPECT_EQ(a.at_most[8], 100u);  // <= 2.5 ms
  // The 50th commit is the 10th of the 40 between 150 and 200 us; the 99th the 19th of the 20
  // between 1 and 2.5 ms.
  EXPECT_NEAR(a.quantile(0.5), 150e-6 + 50e-6 * 10 / 40, 1e-12);
  EXPECT_NEAR(a.quantile(0.99), 1e-3 + 1.5e-3 * 19 / 20, 1e-12);

  recorder.record(std::chrono::seconds(5));  // past the last bound
  const CommitLatency b = recorder.snapshot();
  EXPECT_EQ(b.at_most.back(), 100u);
  EXPECT_EQ(b.count, 101u);
  EXPECT_EQ(b.quantile(1.0), CommitLatency::kBuckets.back());

  const CommitLatency d = b.since(a);
  EXPECT_EQ(d.count, 1u);
  EXPECT_EQ(d.at_most.back(), 0u);
  EXPECT_NEAR(d.sum_seconds, 5.0, 1e-9);
}

// Every SQLite transaction is timed until its `fdatasync` returned, whether the writer thread or
// write_now() wrote it.
TEST(SqliteJournal, TimesEachCommitUntilDurable) {
  TempDir dir;
  auto j = open_sqlite_journal({.path = dir.path() / "j.db", .full_sync = true}).value();
  ASSERT_TRUE(j->write_now(batch({started("now", "d", "2026-01-01T00:00:00.000Z")})).has_value());
  constexpr int kAppends = 10;
  for (int i = 1; i <= kAppends; ++i) {
    ASSERT_TRUE(j->append_and_wait(
                     batch({started("w" + std::to_string(i), "d", "2026-01-01T00:00:01.000Z")}))
                    .ok());
  }
  const JournalStats s = j->stats();
  EXPECT_EQ(s.commits, kAppends + 1u);
  EXPECT_EQ(s.commit_latency.count, s.commits);
  EXPECT_GT(s.commit_latency.sum_seconds, 0.0);
  EXPECT_GT(s.commit_latency.quantile(0.5), 0.0);
  EXPECT_LE(s.commit_latency.quantile(0.5), s.commit_latency.quantile(0.99));
}

// write_now(): an idle journal is written on the caller's thread; a journal with a group in
// hand or a batch queued steps aside, so that nothing is overtaken; a failed write is as sticky
// as a failed append.
TEST(SqliteJournal, WritesNowOnlyWhenIdle) {
  TempDir dir;
  auto j = open_sqlite_journal({.path = dir.path() / "j.db"}).value();
  auto st = j->write_now(batch({started("a", "d", "2026-01-01T00:00:00.000Z")}));
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(st->ok()) << st->error().message;
  ASSERT_TRUE(j->history("a").ok());
  EXPECT_EQ(j->stats().written_now, 1u);
  EXPECT_EQ(j->stats().commits, 1u);

  // The writer thread holds a group until its callback returns.
  std::promise<void> release;
  std::promise<void> in_callback;
  j->append(batch({started("b", "d", "2026-01-01T00:00:01.000Z")}), [&](Status) {
    in_callback.set_value();
    release.get_future().wait();
  });
  in_callback.get_future().wait();
  EXPECT_FALSE(j->write_now(batch({started("c", "d", "2026-01-01T00:00:02.000Z")})).has_value());
  std::promise<void> queued_done;
  j->append(batch({rec("b", 2, events::kStepStarted, "2026-01-01T00:00:03.000Z")}),
            [&](Status) { queued_done.set_value(); });
  release.set_value();
  queued_done.get_future().wait();  // the queue is empty; the writer lets go after its callback
  // The writer thread lets go of the connection just after a group's callbacks return, so the
  // caller they woke may find it still busy for a moment: write_now() then steps aside.
  auto once_idle = [&](const RecordBatch& records) {
    std::optional<Status> written;
    wonderland::testing::eventually(
        [&] {
          written = j->write_now(records);
          return written.has_value();
        },
        std::chrono::seconds(2));
    return written;
  };
  auto after = once_idle(batch(
      {rec("b", 3, events::kCompleted, "2026-01-01T00:00:04.000Z", WorkflowStatus::kCompleted)}));
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(after->ok());
  auto b = j->history("b");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->records.size(), 3u);
  EXPECT_EQ(b->records[1].type, events::kStepStarted);
  EXPECT_EQ(b->summary.status, WorkflowStatus::kCompleted);
  EXPECT_EQ(j->history("c").error().code, codes::kNotFound);
  EXPECT_EQ(j->stats().written_now, 2u);

  auto ghost = j->write_now(batch({rec("ghost", 2, events::kStepStarted)}));
  ASSERT_TRUE(ghost.has_value());
  EXPECT_FALSE(ghost->ok());
  EXPECT_FALSE(j->append_and_wait(batch({rec("a", 2, events::kStepStarted)})).ok());
  auto refused = once_idle(batch({rec("a", 2, events::kStepStarted)}));
  ASSERT_TRUE(refused.has_value());
  EXPECT_FALSE(refused->ok());
}

}  // namespace
}  // namespace wonderland::workflow
