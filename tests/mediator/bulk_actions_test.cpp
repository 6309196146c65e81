// BulkActions: the ids a filter matches, paged; a job's counters and reasons; the bounds on
// running and kept jobs.
#include "wonderland/mediator/bulk_actions.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/workflow/journal.hpp"

namespace wonderland::mediator {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using workflow::WorkflowPage;
using workflow::WorkflowQuery;
using workflow::WorkflowStatus;

/// Workflows w<n-1> ... w0 (newest first) in a memory journal, every other one failed.
std::unique_ptr<workflow::MemoryJournal> journal_of(int n) {
  auto j = std::make_unique<workflow::MemoryJournal>();
  std::vector<workflow::JournalRecord> records;
  for (int i = 0; i < n; ++i) {
    workflow::JournalRecord r;
    r.workflow_id = "w" + std::to_string(i);
    r.seq = 1;
    r.type = workflow::events::kStarted;
    r.at = "2026-01-01T00:00:00.000Z";
    r.status = WorkflowStatus::kRunning;
    r.data = {{"definition", "d"}, {"version", 1}};
    records.push_back(r);
    if (i % 2 == 1) {
      r.seq = 2;
      r.type = workflow::events::kFailed;
      r.status = WorkflowStatus::kFailed;
      r.data = {{"reason", "no"}, {"step", "s"}};
      records.push_back(r);
    }
  }
  EXPECT_TRUE(
      j->append_and_wait(std::make_shared<const std::vector<workflow::JournalRecord>>(records)));
  return j;
}

/// Answers every request at once with what `outcome` says for its id.
struct Recorder {
  std::mutex mu;
  std::vector<std::string> seen;
  std::function<Status(const std::string&)> outcome = [](const std::string&) {
    return ok_status();
  };
  BulkActions::Submitter submitter() {
    return [this](BulkAction, const std::string& id, const std::string&,
                  std::function<void(const Status&)> done) {
      {
        std::lock_guard lock(mu);
        seen.push_back(id);
      }
      done(outcome(id));
    };
  }
};

json wait_finished(BulkActions& bulk, const std::string& id) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto job = bulk.job(id);
    if (job && job->value("state", "") == "finished")
      return *job;
    std::this_thread::sleep_for(5ms);
  }
  ADD_FAILURE() << "job " << id << " did not finish";
  return json();
}

TEST(BulkActions, MatchesEveryPageOfTheFilterAndRefusesTooManyWorkflows) {
  auto journal = journal_of(2500);
  auto list = [&](const WorkflowQuery& q) { return journal->list(q); };
  Recorder recorder;
  BulkActions bulk(list, recorder.submitter(), {.max_matched = 2000});
  auto failed = bulk.match({.status = WorkflowStatus::kFailed});
  ASSERT_TRUE(failed.ok()) << failed.error().message;
  ASSERT_EQ(failed->size(), 1250u);
  EXPECT_EQ(failed->front(), "w2499");
  EXPECT_EQ(failed->back(), "w1");
  auto everything = bulk.match({});
  ASSERT_FALSE(everything.ok());
  EXPECT_EQ(everything.error().code, codes::kInvalidArgument);
  EXPECT_TRUE(recorder.seen.empty());
}

TEST(BulkActions, AJobCountsWhatSucceededWasSkippedOrFailedAndKeepsTheFirstReasons) {
  auto journal = journal_of(40);
  Recorder recorder;
  recorder.outcome = [](const std::string& id) -> Status {
    const int n = std::stoi(id.substr(1));
    if (n % 4 == 1)
      return Error::of(codes::kFailedPrecondition, id + " ended");
    if (n == 39)
      return Error::of(codes::kUnavailable, "the owner did not answer");
    return ok_status();
  };
  BulkActions bulk([&](const WorkflowQuery& q) { return journal->list(q); }, recorder.submitter(),
                   {.kept_reasons = 3});
  const WorkflowQuery filter{.status = WorkflowStatus::kFailed, .definition = "d"};
  auto ids = bulk.match(filter);
  ASSERT_TRUE(ids.ok());
  auto started = bulk.start(BulkAction::kRetry, filter, *ids, "");
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(started->value("action", ""), "retry");
  EXPECT_EQ(started->value("matched", 0), 20);
  EXPECT_EQ((*started)["filter"], (json{{"status", "failed"}, {"definition", "d"}}));
  json job = wait_finished(bulk, started->value("id", ""));
  EXPECT_EQ(job.value("done", 0), 20);
  EXPECT_EQ(job.value("succeeded", 0), 9);  // odd ids: 10 of n % 4 == 3, less w39
  EXPECT_EQ(job.value("skipped", 0), 10);   // n % 4 == 1
  EXPECT_EQ(job.value("failed", 0), 1);
  ASSERT_EQ(job["reasons"].size(), 3u);
  EXPECT_EQ(job["reasons"][0].value("id", ""), "w39");
  EXPECT_EQ(job["reasons"][0].value("outcome", ""), "failed");
  EXPECT_EQ(job["reasons"][0].value("code", ""), "unavailable");
  EXPECT_EQ(job["reasons"][1].value("outcome", ""), "skipped");
  EXPECT_EQ(job["reasons"][1].value("message", ""), "w37 ended");
  EXPECT_TRUE(job["finished_at"].is_string());
  EXPECT_EQ(recorder.seen.size(), 20u);
}

/// Holds every request until released, answering them later from another thread.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::vector<std::thread> answers;
  int waiting = 0;
  BulkActions::Submitter submitter() {
    return [this](BulkAction, const std::string&, const std::string&,
                  std::function<void(const Status&)> done) {
      std::lock_guard lock(mu);
      ++waiting;
      cv.notify_all();
      answers.emplace_back([this, done = std::move(done)] {
        std::unique_lock held(mu);
        cv.wait(held, [this] { return open; });
        held.unlock();
        done(ok_status());
      });
    };
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
  ~Gate() {
    release();
    for (auto& t : answers)
      t.join();
  }
};

TEST(BulkActions, RunningJobsAreBoundedAndOnlyTheMostRecentAreKept) {
  auto journal = journal_of(30);
  auto list = [&](const WorkflowQuery& q) { return journal->list(q); };
  Gate gate;
  {
    BulkActions bulk(list, gate.submitter(), {.max_running = 1, .max_kept = 3, .in_flight = 4});
    auto ids = bulk.match({.definition = "d"});
    ASSERT_TRUE(ids.ok());
    auto first = bulk.start(BulkAction::kPause, {.definition = "d"}, *ids, "");
    ASSERT_TRUE(first.ok());
    {
      // No more than `in_flight` requests wait for their answer.
      std::unique_lock lock(gate.mu);
      ASSERT_TRUE(gate.cv.wait_for(lock, 5s, [&] { return gate.waiting == 4; }));
    }
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(bulk.job(first->value("id", ""))->value("state", ""), "running");
    {
      std::lock_guard lock(gate.mu);
      EXPECT_EQ(gate.waiting, 4);
    }
    auto refused = bulk.start(BulkAction::kResume, {.definition = "d"}, *ids, "");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, codes::kResourceExhausted);
    EXPECT_TRUE(refused.error().retryable);
    gate.release();
    json job = wait_finished(bulk, first->value("id", ""));
    EXPECT_EQ(job.value("succeeded", 0), 30);

    std::vector<std::string> started{first->value("id", "")};
    for (int i = 0; i < 3; ++i) {
      auto next = bulk.start(BulkAction::kResume, {.definition = "d"}, {"w1"}, "");
      ASSERT_TRUE(next.ok()) << next.error().message;
      started.push_back(next->value("id", ""));
      wait_finished(bulk, started.back());
    }
    EXPECT_FALSE(bulk.job(started[0]).has_value());  // forgotten: 3 are kept
    json listed = bulk.jobs();
    ASSERT_EQ(listed.size(), 3u);
    EXPECT_EQ(listed[0].value("id", ""), started[3]);  // newest first
    EXPECT_EQ(listed[2].value("id", ""), started[1]);
  }
}

TEST(BulkActions, ActionsHaveTheirNames) {
  for (auto a : {BulkAction::kRetry, BulkAction::kCancel, BulkAction::kPause, BulkAction::kResume})
    EXPECT_EQ(parse_bulk_action(to_string(a)), a);
  EXPECT_FALSE(parse_bulk_action("rerun").has_value());
}

}  // namespace
}  // namespace wonderland::mediator
