// Retention (Journal::archive_finished()) as parametrised tests, for the journals with an
// archive: each instantiates JournalRetention with a Factory (journal_contract.hpp) that opens
// a fresh, empty journal.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "journal_contract.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::workflow {
namespace {

using std::chrono::hours;

class JournalRetention : public JournalContract {};

/// A workflow of `def` started long ago, with a step record and, when `end` is set, its end.
std::vector<JournalRecord> old_workflow(const std::string& id, std::optional<WorkflowStatus> end,
                                        const std::string& def = "d") {
  std::vector<JournalRecord> out{started(id, def, "2020-01-01T00:00:00.000Z")};
  JournalRecord step = rec(id, 2, events::kStepSucceeded, "2020-01-01T00:00:01.000Z", std::nullopt,
                           {{"text", "quote \" é ✓"}, {"list", {1, nullptr}}});
  step.step = "fulfil/ship";
  step.attempt = 2;
  out.push_back(step);
  if (end == WorkflowStatus::kCompleted)
    out.push_back(rec(id, 3, events::kCompleted, "2020-01-01T00:00:02.000Z", end));
  if (end == WorkflowStatus::kFailed || end == WorkflowStatus::kCancelled ||
      end == WorkflowStatus::kNeedsAttention) {
    out.push_back(rec(id, 3, events::kFailed, "2020-01-01T00:00:02.000Z", end,
                      {{"reason", "it ended"}, {"step", "fulfil/ship"}}));
  }
  return out;
}

void expect_same(const WorkflowHistory& hot, const WorkflowHistory& archived) {
  EXPECT_TRUE(archived.summary.archived);
  EXPECT_FALSE(hot.summary.archived);
  EXPECT_EQ(archived.summary.id, hot.summary.id);
  EXPECT_EQ(archived.summary.definition, hot.summary.definition);
  EXPECT_EQ(archived.summary.version, hot.summary.version);
  EXPECT_EQ(archived.summary.status, hot.summary.status);
  EXPECT_EQ(archived.summary.reason, hot.summary.reason);
  EXPECT_EQ(archived.summary.created_at, hot.summary.created_at);
  EXPECT_EQ(archived.summary.updated_at, hot.summary.updated_at);
  ASSERT_EQ(archived.records.size(), hot.records.size());
  for (std::size_t i = 0; i < hot.records.size(); ++i) {
    const JournalRecord& a = archived.records[i];
    const JournalRecord& h = hot.records[i];
    EXPECT_EQ(a.workflow_id, h.workflow_id);
    EXPECT_EQ(a.seq, h.seq);
    EXPECT_EQ(a.type, h.type);
    EXPECT_EQ(a.step, h.step);
    EXPECT_EQ(a.attempt, h.attempt);
    EXPECT_EQ(a.at, h.at);
    EXPECT_EQ(a.status, h.status);
    EXPECT_EQ(a.data, h.data) << a.data.dump() << " vs " << h.data.dump();
  }
}

std::set<std::string> ids_of(const std::vector<WorkflowSummary>& items) {
  std::set<std::string> out;
  for (const auto& s : items)
    out.insert(s.id);
  return out;
}

/// Every archived id, page by page; a duplicate fails the test.
std::set<std::string> all_archived(Journal& j) {
  std::set<std::string> out;
  WorkflowQuery q;
  q.limit = 100;
  for (;;) {
    auto page = j.list_archived(q);
    EXPECT_TRUE(page.ok()) << page.error().message;
    if (!page.ok())
      return out;
    for (const auto& s : page->items)
      EXPECT_TRUE(out.insert(s.id).second) << "archived twice: " << s.id;
    if (page->next_page_token.empty())
      return out;
    q.page_token = page->next_page_token;
  }
}

TEST_P(JournalRetention, MovesOnlyOldFinishedWorkflowsAndReadsThemAsBefore) {
  auto j = open();
  const std::vector<std::pair<std::string, std::optional<WorkflowStatus>>> old{
      {"done", WorkflowStatus::kCompleted},
      {"failed", WorkflowStatus::kFailed},
      {"cancelled", WorkflowStatus::kCancelled},
      {"attention", WorkflowStatus::kNeedsAttention},
      {"running", std::nullopt}};
  for (const auto& [id, end] : old)
    ASSERT_TRUE(appended(*j, old_workflow(id, end)));
  const std::string now = now_iso8601();
  ASSERT_TRUE(appended(*j, {started("young", "d", now),
                            rec("young", 2, events::kCompleted, now, WorkflowStatus::kCompleted)}));
  std::map<std::string, WorkflowHistory> before;
  for (const char* id : {"done", "failed", "cancelled"})
    before[id] = j->history(id).value();

  auto moved = j->archive_finished(hours(24), 500);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(*moved, 3u);
  // The hot list keeps the running, the needs_attention and the young workflows only.
  WorkflowQuery all;
  EXPECT_EQ(ids_of(j->list(all)->items), (std::set<std::string>{"attention", "running", "young"}));
  for (const auto& [id, hot] : before) {
    SCOPED_TRACE(id);
    auto h = j->history(id);
    ASSERT_TRUE(h.ok()) << h.error().message;
    expect_same(hot, *h);
    auto found = j->find(id);
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_TRUE((*found)->archived);
    EXPECT_EQ((*found)->status, hot.summary.status);
  }
  EXPECT_FALSE(j->find("young").value()->archived);
  EXPECT_EQ(j->history("nope").error().code, codes::kNotFound);
  EXPECT_FALSE(j->find("nope").value().has_value());
  // The archive lists them, last archived first, with the status and definition filters.
  EXPECT_EQ(all_archived(*j), (std::set<std::string>{"done", "failed", "cancelled"}));
  WorkflowQuery failed;
  failed.status = WorkflowStatus::kFailed;
  auto page = j->list_archived(failed);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, "failed");
  EXPECT_EQ(page->items[0].reason, "it ended");
  // A second sweep finds nothing more.
  EXPECT_EQ(j->archive_finished(hours(24), 500).value(), 0u);
  EXPECT_EQ(all_archived(*j).size(), 3u);
}

TEST_P(JournalRetention, SweepsInBatchesWhileAppendsGoOn) {
  auto j = open();
  constexpr int kOld = 1100;
  std::vector<JournalRecord> records;
  for (int i = 0; i < kOld; ++i) {
    auto w = old_workflow("old-" + std::to_string(i), WorkflowStatus::kCompleted);
    records.insert(records.end(), w.begin(), w.end());
  }
  ASSERT_TRUE(appended(*j, records));
  std::atomic<bool> sweeping{true};
  std::atomic<int> appends{0};
  std::thread writer([&] {
    for (int i = 0; sweeping || i < 20; ++i) {
      const std::string id = "new-" + std::to_string(i);
      const std::string now = now_iso8601();
      EXPECT_TRUE(appended(*j, {started(id, "d", now)}));
      EXPECT_TRUE(appended(*j, {rec(id, 2, events::kCompleted, now, WorkflowStatus::kCompleted)}));
      ++appends;
    }
  });
  std::vector<std::size_t> batches;
  for (;;) {
    auto moved = j->archive_finished(hours(24), 500);
    ASSERT_TRUE(moved.ok()) << moved.error().message;
    batches.push_back(*moved);
    if (*moved < 500)
      break;
  }
  sweeping = false;
  writer.join();
  EXPECT_EQ(batches, (std::vector<std::size_t>{500, 500, 100}));
  EXPECT_EQ(all_archived(*j).size(), static_cast<std::size_t>(kOld));
  // The new workflows are all hot and whole.
  WorkflowQuery q;
  q.limit = 1000;
  auto hot = j->list(q);
  ASSERT_TRUE(hot.ok());
  EXPECT_EQ(hot->items.size(), static_cast<std::size_t>(appends.load()));
  EXPECT_EQ(j->history("new-0")->records.size(), 2u);
  EXPECT_EQ(j->history("old-7")->records.size(), 3u);
}

}  // namespace
}  // namespace wonderland::workflow
