// Retention in the SQLite journal: the move of finished workflows from `workflows` and `events`
// to `archived_workflows` (on the writer connection), and the reads of the archive (on the
// reader connection), and the readers of summary and record rows the queries share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "wonderland/sqlite/db.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::workflow::detail {

/// A summary from the columns kSummaryColumns names (sqlite_journal_schema.hpp), or those of the
/// archive in the same order; `archived` as given.
WorkflowSummary read_summary(const sqlite::Statement& s, bool archived = false);
/// The rows of a list query that asked for limit + 1 rows, the row id first, as a page.
WorkflowPage read_page(sqlite::Statement& q, std::size_t limit, bool archived);

/// The SQL of workflow row ?1..?2's records (its rid range), in order, for read_record().
inline constexpr const char* kSelectRecords =
    "SELECT rid, type, step, attempt, at, status, data FROM events WHERE rid BETWEEN ?1 AND ?2 "
    "ORDER BY rid";
/// The record of a kSelectRecords row, but its workflow_id and its data (column 6).
JournalRecord read_record(const sqlite::Statement& q);

/// Inserts record `r` (but its workflow_id) as a record row of workflow row `wid`, with `data`
/// (compact JSON text) as its data. Throws what wonderland::sqlite throws.
void insert_record(sqlite::Db& db, std::int64_t wid, const JournalRecord& r,
                   const std::string& data);

/// Moves at most `limit` finished workflows whose last status change is before `cutoff`
/// (ISO-8601) to the archive in one transaction on the writer connection `db`, stamped
/// `archived_at`; returns how many moved. Throws what wonderland::sqlite throws.
std::size_t archive_finished(sqlite::Db& db, const std::string& cutoff, std::size_t limit,
                             const std::string& archived_at);

/// Moves workflow `workflow_id` back from the archive to `workflows` and `events`, its summary
/// and records as they were, inside the transaction open on the writer connection `db`, and
/// returns its new row id; nullopt when the archive does not hold it. Throws what
/// wonderland::sqlite throws.
Result<std::optional<std::int64_t>> restore_archived(sqlite::Db& db,
                                                     const std::string& workflow_id);

/// One archived workflow with its records; nullopt when the archive does not hold it.
Result<std::optional<WorkflowHistory>> archived_history(sqlite::Db& db,
                                                        const std::string& workflow_id);
/// One archived workflow's summary; nullopt when the archive does not hold it.
std::optional<WorkflowSummary> archived_summary(sqlite::Db& db, const std::string& workflow_id);
/// A page of the archive, last archived first (Journal::list_archived()).
Result<WorkflowPage> list_archived(sqlite::Db& db, const WorkflowQuery& query);

}  // namespace wonderland::workflow::detail
