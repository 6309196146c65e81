// The Journal contract, run against the SQLite and the in-memory journals.
#include "wonderland/workflow/journal.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include "support.hpp"
#include "wonderland/workflow/sqlite_journal.hpp"

namespace wonderland::workflow {
namespace {

using nlohmann::json;
using testing::TempDir;

JournalRecord rec(const std::string& id, std::int64_t seq, const std::string& type,
                  std::string at = "2026-01-01T00:00:00.000Z",
                  std::optional<WorkflowStatus> status = std::nullopt, json data = json::object()) {
  JournalRecord r;
  r.workflow_id = id;
  r.seq = seq;
  r.type = type;
  r.at = std::move(at);
  r.status = status;
  r.data = std::move(data);
  return r;
}

JournalRecord started(const std::string& id, const std::string& def, const std::string& at) {
  return rec(id, 1, events::kStarted, at, WorkflowStatus::kRunning,
             json{{"definition", def}, {"version", 3}, {"input", {{"k", 1}}}});
}

RecordBatch batch(std::vector<JournalRecord> records) {
  return std::make_shared<const std::vector<JournalRecord>>(std::move(records));
}

/// Appends and waits; the failure message carries the journal's error.
::testing::AssertionResult appended(Journal& j, std::vector<JournalRecord> records) {
  Status st = j.append_and_wait(batch(std::move(records)));
  if (st)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << st.error().message;
}

struct Factory {
  std::string name;
  std::function<std::unique_ptr<Journal>(const std::filesystem::path&)> open;
};

class JournalContract : public ::testing::TestWithParam<Factory> {
 protected:
  std::unique_ptr<Journal> open() { return GetParam().open(dir_.path() / "j.db"); }
  TempDir dir_;
};

TEST_P(JournalContract, AppendsAndReadsBack) {
  auto j = open();
  ASSERT_TRUE(appended(*j, {started("w1", "purchase", "2026-01-01T10:00:00.000Z")}));
  JournalRecord step = rec("w1", 2, events::kStepStarted, "2026-01-01T10:00:01.000Z");
  step.step = "fulfil/confirm";
  step.attempt = 1;
  step.data = {{"request", {{"n", 1}}}};
  ASSERT_TRUE(appended(*j, {step, rec("w1", 3, events::kFailed, "2026-01-01T10:00:02.000Z",
                                      WorkflowStatus::kFailed, {{"reason", "no stock"}})}));
  auto h = j->history("w1");
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->summary.definition, "purchase");
  EXPECT_EQ(h->summary.version, 3);
  EXPECT_EQ(h->summary.status, WorkflowStatus::kFailed);
  EXPECT_EQ(h->summary.reason, "no stock");
  EXPECT_EQ(h->summary.created_at, "2026-01-01T10:00:00.000Z");
  EXPECT_EQ(h->summary.updated_at, "2026-01-01T10:00:02.000Z");
  ASSERT_EQ(h->records.size(), 3u);
  EXPECT_EQ(h->records[1].step, "fulfil/confirm");
  EXPECT_EQ(h->records[1].attempt, 1);
  EXPECT_EQ(h->records[1].data["request"]["n"], 1);
  EXPECT_FALSE(h->records[1].status.has_value());
  EXPECT_EQ(h->records[2].status, WorkflowStatus::kFailed);
  EXPECT_EQ(j->history("nope").error().code, codes::kNotFound);
  auto none = j->find("nope");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(JournalContract, LoadsOnlyRunningWorkflows) {
  auto j = open();
  ASSERT_TRUE(appended(
      *j,
      {started("a", "d", "2026-01-01T00:00:00.000Z"), started("b", "d", "2026-01-01T00:00:01.000Z"),
       rec("a", 2, events::kCompleted, "2026-01-01T00:00:02.000Z", WorkflowStatus::kCompleted)}));
  auto open_ones = j->load_unfinished();
  ASSERT_TRUE(open_ones.ok());
  ASSERT_EQ(open_ones->size(), 1u);
  EXPECT_EQ((*open_ones)[0].summary.id, "b");
  EXPECT_EQ((*open_ones)[0].records.size(), 1u);
}

TEST_P(JournalContract, ListsByStatusDefinitionAndTimeWithPaging) {
  auto j = open();
  std::vector<JournalRecord> records;
  for (int i = 0; i < 7; ++i) {
    std::string id = "w" + std::to_string(i);
    std::string at = "2026-01-0" + std::to_string(i + 1) + "T00:00:00.000Z";
    records.push_back(started(id, i % 2 ? "refund" : "purchase", at));
    if (i % 3 == 0)
      records.push_back(rec(id, 2, events::kCompleted, at, WorkflowStatus::kCompleted));
  }
  ASSERT_TRUE(appended(*j, records));

  auto all = j->list({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 7u);
  EXPECT_EQ(all->items.front().id, "w6");  // newest first
  EXPECT_TRUE(all->next_page_token.empty());

  auto done = j->list({.status = WorkflowStatus::kCompleted});
  ASSERT_EQ(done->items.size(), 3u);  // w0, w3, w6

  auto purchases = j->list({.definition = "purchase"});
  EXPECT_EQ(purchases->items.size(), 4u);

  auto window = j->list(
      {.created_from = "2026-01-02T00:00:00.000Z", .created_to = "2026-01-05T00:00:00.000Z"});
  ASSERT_EQ(window->items.size(), 3u);  // w1, w2, w3
  EXPECT_EQ(window->items.back().id, "w1");

  std::vector<std::string> seen;
  WorkflowQuery q{.limit = 3};
  for (int page = 0; page < 5; ++page) {
    auto p = j->list(q);
    ASSERT_TRUE(p.ok());
    for (const auto& w : p->items)
      seen.push_back(w.id);
    if (p->next_page_token.empty())
      break;
    q.page_token = p->next_page_token;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"w6", "w5", "w4", "w3", "w2", "w1", "w0"}));
  EXPECT_EQ(j->list({.limit = 0}).error().code, codes::kInvalidArgument);
  EXPECT_EQ(j->list({.page_token = "x"}).error().code, codes::kInvalidArgument);
}

TEST_P(JournalContract, ConcurrentAppendsAreAllDurableInOrder) {
  auto j = open();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string id = "t" + std::to_string(t);
      std::vector<std::future<void>> waits;
      std::vector<std::shared_ptr<std::promise<void>>> promises;
      for (int i = 1; i <= kPerThread; ++i) {
        auto r = i == 1 ? started(id, "d", "2026-01-01T00:00:00.000Z")
                        : rec(id, i, events::kStepSucceeded);
        auto p = std::make_shared<std::promise<void>>();
        waits.push_back(p->get_future());
        j->append(batch({r}), [&ok, p](Status st) {
          if (st)
            ++ok;
          p->set_value();
        });
      }
      for (auto& w : waits)
        w.wait();
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    auto h = j->history("t" + std::to_string(t));
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h->records.size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i)
      EXPECT_EQ(h->records[static_cast<std::size_t>(i)].seq, i + 1);
  }
  JournalStats s = j->stats();
  EXPECT_EQ(s.records, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(s.appends, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_LE(s.commits, s.appends);
}

TEST_P(JournalContract, EmptyBatchCompletesInOrder) {
  auto j = open();
  std::vector<int> order;
  std::mutex m;
  std::promise<void> done;
  j->append(batch({started("w", "d", "2026-01-01T00:00:00.000Z")}), [&](Status) {
    std::lock_guard lock(m);
    order.push_back(1);
  });
  j->append(batch({}), [&](Status st) {
    EXPECT_TRUE(st.ok());
    {
      std::lock_guard lock(m);
      order.push_back(2);
    }
    done.set_value();
  });
  done.get_future().wait();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

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
