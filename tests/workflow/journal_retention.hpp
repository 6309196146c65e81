// Retention (Journal::archive_finished()) as parametrised tests, for the journals with an
// archive: each instantiates JournalRetention with a Factory (journal_contract.hpp) that opens
// a fresh, empty journal.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
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

/// The records of `n` old workflows `prefix`0, `prefix`1, ... that ended with `end`.
std::vector<JournalRecord> old_workflows(const std::string& prefix, int n, WorkflowStatus end) {
  std::vector<JournalRecord> out;
  for (int i = 0; i < n; ++i) {
    auto w = old_workflow(prefix + std::to_string(i), end);
    out.insert(out.end(), w.begin(), w.end());
  }
  return out;
}

/// `actual` begins with the records `expected`, as they were.
void expect_same_records(const std::vector<JournalRecord>& expected,
                         const std::vector<JournalRecord>& actual) {
  ASSERT_GE(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const JournalRecord& a = actual[i];
    const JournalRecord& h = expected[i];
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
  expect_same_records(hot.records, archived.records);
}

/// Every id that `list` pages through, page by page; an id listed twice fails the test.
std::set<std::string> all_listed(
    const std::function<Result<WorkflowPage>(const WorkflowQuery&)>& list) {
  std::set<std::string> out;
  WorkflowQuery q;
  q.limit = 100;
  for (;;) {
    auto page = list(q);
    EXPECT_TRUE(page.ok()) << page.error().message;
    if (!page.ok())
      return out;
    for (const auto& s : page->items)
      EXPECT_TRUE(out.insert(s.id).second) << "listed twice: " << s.id;
    if (page->next_page_token.empty())
      return out;
    q.page_token = page->next_page_token;
  }
}

/// Every archived id.
std::set<std::string> all_archived(Journal& j) {
  return all_listed([&](const WorkflowQuery& q) { return j.list_archived(q); });
}

/// Every hot id.
std::set<std::string> all_hot(Journal& j) {
  return all_listed([&](const WorkflowQuery& q) { return j.list(q); });
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
  EXPECT_EQ(all_hot(*j), (std::set<std::string>{"attention", "running", "young"}));
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
  ASSERT_TRUE(appended(*j, old_workflows("old-", kOld, WorkflowStatus::kCompleted)));
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

// The sweep may archive a workflow between the moment the engine decides to write it (an
// operator's retry, a late signal) and the write: the append restores it.
TEST_P(JournalRetention, AnAppendRestoresAnArchivedWorkflow) {
  auto j = open();
  ASSERT_TRUE(appended(*j, old_workflow("w", WorkflowStatus::kCompleted)));
  // A late signal after the end: the status and its time stay.
  ASSERT_TRUE(appended(*j, {rec("w", 4, events::kSignalReceived, "2020-01-01T00:00:03.000Z",
                                std::nullopt, {{"signal", "late"}})}));
  ASSERT_TRUE(appended(*j, {started("other", "d", now_iso8601())}));
  const WorkflowHistory before = j->history("w").value();
  ASSERT_EQ(j->archive_finished(hours(24), 500).value(), 1u);
  ASSERT_TRUE(j->history("w")->summary.archived);

  ASSERT_TRUE(appended(*j, {rec("w", 5, events::kRetryRequested, "2020-01-02T00:00:00.000Z",
                                WorkflowStatus::kRunning)}));
  auto found = j->find("w");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_FALSE((*found)->archived);
  EXPECT_EQ((*found)->status, WorkflowStatus::kRunning);
  // The journal still writes the other workflows.
  ASSERT_TRUE(appended(*j, {rec("other", 2, events::kStepStarted, now_iso8601())}));
  ASSERT_TRUE(appended(*j, {started("fresh", "d", now_iso8601())}));
  ASSERT_TRUE(appended(*j, {rec("w", 6, events::kCompleted, "2020-01-02T00:00:01.000Z",
                                WorkflowStatus::kCompleted)}));

  auto h = j->history("w");
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_FALSE(h->summary.archived);
  EXPECT_EQ(h->summary.definition, before.summary.definition);
  EXPECT_EQ(h->summary.version, before.summary.version);
  EXPECT_EQ(h->summary.status, WorkflowStatus::kCompleted);
  EXPECT_EQ(h->summary.created_at, before.summary.created_at);
  EXPECT_EQ(h->summary.updated_at, "2020-01-02T00:00:01.000Z");
  ASSERT_EQ(h->records.size(), 6u);
  expect_same_records(before.records, h->records);
  for (std::size_t i = 0; i < h->records.size(); ++i)
    EXPECT_EQ(h->records[i].seq, static_cast<std::int64_t>(i + 1));
  EXPECT_EQ(h->records[4].type, events::kRetryRequested);
  EXPECT_EQ(h->records[5].type, events::kCompleted);
  EXPECT_EQ(j->history("other")->records.size(), 2u);
  EXPECT_EQ(all_hot(*j), (std::set<std::string>{"w", "other", "fresh"}));
  EXPECT_TRUE(all_archived(*j).empty());

  // A later sweep archives it again, whole.
  ASSERT_EQ(j->archive_finished(hours(24), 500).value(), 1u);
  EXPECT_EQ(all_archived(*j), (std::set<std::string>{"w"}));
  auto again = j->history("w");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->summary.archived);
  EXPECT_EQ(again->records.size(), 6u);
  expect_same_records(h->records, again->records);
}

TEST_P(JournalRetention, AppendsRaceTheSweep) {
  auto j = open();
  constexpr int kWorkflows = 200;
  ASSERT_TRUE(appended(*j, old_workflows("r-", kWorkflows, WorkflowStatus::kCompleted)));
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (std::int64_t seq = 4; seq <= 5; ++seq) {
      for (int i = 0; i < kWorkflows; ++i) {
        EXPECT_TRUE(appended(*j, {rec("r-" + std::to_string(i), seq, events::kSignalReceived,
                                      "2020-01-01T00:00:04.000Z")}));
      }
    }
    writing = false;
  });
  while (writing) {
    auto moved = j->archive_finished(hours(24), 7);
    EXPECT_TRUE(moved.ok()) << moved.error().message;
    if (!moved.ok())
      break;
  }
  writer.join();
  while (j->archive_finished(hours(24), 500).value() > 0) {
  }
  EXPECT_EQ(all_archived(*j).size(), static_cast<std::size_t>(kWorkflows));
  EXPECT_TRUE(j->list(WorkflowQuery{})->items.empty());
  for (int i = 0; i < kWorkflows; ++i) {
    auto h = j->history("r-" + std::to_string(i));
    ASSERT_TRUE(h.ok()) << h.error().message;
    EXPECT_TRUE(h->summary.archived);
    ASSERT_EQ(h->records.size(), 5u) << h->summary.id;
    for (std::size_t k = 0; k < h->records.size(); ++k)
      EXPECT_EQ(h->records[k].seq, static_cast<std::int64_t>(k + 1));
  }
}

}  // namespace
}  // namespace wonderland::workflow
