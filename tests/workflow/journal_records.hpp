// Journal records for tests: a record, a `started` record, a batch, and an append that waits.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/workflow/journal.hpp"

namespace wonderland::workflow {
namespace {

using nlohmann::json;

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

}  // namespace
}  // namespace wonderland::workflow
