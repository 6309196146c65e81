// The Journal contract as parametrised tests: every journal implementation instantiates
// JournalContract with a Factory that opens a fresh, empty journal.
//
//   INSTANTIATE_TEST_SUITE_P(Journals, JournalContract,
//                            ::testing::Values(Factory{"memory", [](const auto&) { ... }}),
//                            [](const auto& param) { return param.param.name; });
//
// Include it in one source file per test binary.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "journal_records.hpp"
#include "wonderland/testing/temp_dir.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::workflow {
namespace {

using wonderland::testing::TempDir;

/// Opens a fresh, empty journal; the path is a file name in a temporary folder of the test.
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

TEST_P(JournalContract, CountsRunningWorkflowsByDefinitionVersion) {
  auto j = open();
  auto begun = [](const std::string& id, const std::string& def, int version) {
    JournalRecord r = started(id, def, "2026-01-01T00:00:00.000Z");
    r.data["version"] = version;
    return r;
  };
  ASSERT_TRUE(appended(
      *j,
      {begun("a", "d", 1), begun("b", "d", 1), begun("c", "d", 2), begun("e", "x", 1),
       rec("c", 2, events::kCompleted, "2026-01-01T00:00:02.000Z", WorkflowStatus::kCompleted)}));
  auto counts = j->running_by_version();
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].definition, "d");
  EXPECT_EQ((*counts)[0].version, 1);
  EXPECT_EQ((*counts)[0].running, 2);
  EXPECT_EQ((*counts)[1].definition, "x");
  EXPECT_EQ((*counts)[1].running, 1);
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

TEST_P(JournalContract, ListsByVersionAndFailingStep) {
  auto j = open();
  auto failed = [](const std::string& id, std::int64_t seq, const std::string& step) {
    return rec(id, seq, events::kFailed, "2026-01-01T00:00:05.000Z", WorkflowStatus::kFailed,
               {{"reason", "step '" + step + "' failed"}, {"step", step}});
  };
  auto step_rec = [](const std::string& id, std::int64_t seq, const char* type,
                     const std::string& step) {
    JournalRecord r = rec(id, seq, type, "2026-01-01T00:00:04.000Z");
    r.step = step;
    return r;
  };
  JournalRecord v4 = started("v4", "purchase", "2026-01-01T00:00:00.000Z");
  v4.data["version"] = 4;
  ASSERT_TRUE(appended(
      *j,
      {started("f-charge", "purchase", "2026-01-01T00:00:00.000Z"),
       step_rec("f-charge", 2, events::kStepFailed, "charge"), failed("f-charge", 3, "charge"),
       started("f-reserve", "purchase", "2026-01-01T00:00:01.000Z"),
       step_rec("f-reserve", 2, events::kStepFailed, "reserve"), failed("f-reserve", 3, "reserve"),
       started("stuck", "purchase", "2026-01-01T00:00:02.000Z"),
       step_rec("stuck", 2, events::kStepFailed, "charge"),
       step_rec("stuck", 3, events::kCompensationFailed, "reserve"),
       rec("stuck", 4, events::kNeedsAttention, "2026-01-01T00:00:05.000Z",
           WorkflowStatus::kNeedsAttention, {{"reason", "compensation of 'reserve' failed"}}),
       // Stuck undoing `reserve`, retried: its compensation went through and it failed at
       // `charge`, which is its failing step now.
       started("undone", "purchase", "2026-01-01T00:00:03.000Z"),
       step_rec("undone", 2, events::kStepFailed, "charge"),
       step_rec("undone", 3, events::kCompensationFailed, "reserve"),
       rec("undone", 4, events::kNeedsAttention, "2026-01-01T00:00:05.000Z",
           WorkflowStatus::kNeedsAttention, {{"reason", "compensation of 'reserve' failed"}}),
       rec("undone", 5, events::kRetryRequested, "2026-01-01T00:00:06.000Z",
           WorkflowStatus::kRunning),
       failed("undone", 6, "charge"), v4}));

  auto ids = [&](WorkflowQuery q) {
    std::vector<std::string> out;
    auto page = j->list(q);
    EXPECT_TRUE(page.ok()) << page.error().message;
    if (page.ok()) {
      for (const auto& w : page->items)
        out.push_back(w.id);
    }
    return out;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids({.version = 4}), Ids{"v4"});
  EXPECT_EQ(ids({.definition = "purchase", .version = 3}).size(), 4u);
  EXPECT_TRUE(ids({.version = 5}).empty());
  EXPECT_EQ(ids({.failing_step = "charge"}), (Ids{"undone", "f-charge"}));
  EXPECT_EQ(ids({.failing_step = "reserve"}), (Ids{"stuck", "f-reserve"}));
  EXPECT_EQ(ids({.status = WorkflowStatus::kNeedsAttention, .failing_step = "reserve"}),
            Ids{"stuck"});
  EXPECT_TRUE(ids({.failing_step = "ship"}).empty());
  EXPECT_EQ(ids({.version = 3, .failing_step = "charge", .limit = 1}), Ids{"undone"});
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
  // Every transaction is timed, and the histogram is whole: cumulative, within the total.
  const CommitLatency& c = s.commit_latency;
  EXPECT_EQ(c.count, s.commits);
  for (std::size_t i = 1; i < c.at_most.size(); ++i)
    EXPECT_LE(c.at_most[i - 1], c.at_most[i]) << "bucket " << i;
  EXPECT_LE(c.at_most.back(), c.count);
  EXPECT_GE(c.sum_seconds, 0.0);
  EXPECT_LE(c.quantile(0.5), c.quantile(0.99));
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

}  // namespace
}  // namespace wonderland::workflow
