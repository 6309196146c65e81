// The read side of the SQLite journal: the monitoring queries and the load of unfinished
// workflows at start, on their own connection, which sees committed data only. history() and
// find() read the archive (sqlite_journal_archive.hpp) for a workflow that is not hot.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/sqlite/db.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::workflow::detail {

/// Thread-safe: one query at a time on the reader connection.
class JournalQueries {
 public:
  explicit JournalQueries(std::unique_ptr<sqlite::Db> reader) : db_(std::move(reader)) {}

  Result<std::vector<WorkflowHistory>> load_unfinished();
  Result<WorkflowHistory> history(const std::string& workflow_id);
  Result<std::optional<WorkflowSummary>> find(const std::string& workflow_id);
  Result<WorkflowPage> list(const WorkflowQuery& query);
  Result<WorkflowPage> list_archived(const WorkflowQuery& query);
  Result<std::vector<VersionCount>> running_by_version();

 private:
  using SummaryRow = std::pair<std::int64_t, WorkflowSummary>;  ///< Row id and summary.

  /// The caller holds mutex_.
  std::optional<SummaryRow> summary_row(const std::string& workflow_id);
  /// Appends the records of workflow row `wid` to `h`; the caller holds mutex_.
  Status read_records(std::int64_t wid, WorkflowHistory& h);

  std::mutex mutex_;
  std::unique_ptr<sqlite::Db> db_;
};

}  // namespace wonderland::workflow::detail
