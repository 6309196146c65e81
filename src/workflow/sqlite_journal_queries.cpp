#include "sqlite_journal_queries.hpp"

#include <exception>

#include "sqlite_errors.hpp"
#include "sqlite_journal_archive.hpp"
#include "sqlite_journal_schema.hpp"
#include "wonderland/common/json_parse.hpp"

namespace wonderland::workflow::detail {
namespace {

/// The step a failed or needs_attention workflow failed at (failing_step() in journal.hpp): a
/// backward scan of its own records only.
constexpr const char* kFailingStep =
    "(CASE status WHEN 'failed' THEN (SELECT json_extract(e.data, '$.step') FROM events e WHERE "
    "e.rid BETWEEN (workflows.wid << 24) AND ((workflows.wid << 24) | 16777215) AND e.type = "
    "'failed' ORDER BY e.rid DESC LIMIT 1) WHEN 'needs_attention' THEN (SELECT e.step FROM "
    "events e WHERE e.rid BETWEEN (workflows.wid << 24) AND ((workflows.wid << 24) | 16777215) "
    "AND e.type = 'compensation_failed' ORDER BY e.rid DESC LIMIT 1) END)";
static_assert(kSeqBits == 24, "kFailingStep spells out the record id layout");

/// The SQL of a list query: only the filters that are set, newest first.
std::string list_sql(const WorkflowQuery& query, bool paged) {
  std::string sql = std::string("SELECT ") + kSummaryColumns + " FROM workflows WHERE 1 = 1";
  if (query.status)
    sql += " AND status = ?1";
  if (query.definition)
    sql += " AND definition = ?2";
  if (query.version)
    sql += " AND version = ?6";
  if (query.created_from)
    sql += " AND created_at >= ?3";
  if (query.created_to)
    sql += " AND created_at < ?4";
  if (query.failing_step)
    sql += std::string(" AND ") + kFailingStep + " = ?7";
  if (paged)
    sql += " AND wid < ?5";
  sql += " ORDER BY wid DESC LIMIT ?8";  // the highest index: every one binds
  return sql;
}

}  // namespace

Result<std::vector<WorkflowHistory>> JournalQueries::load_unfinished() {
  std::lock_guard lock(mutex_);
  return guard_sqlite("load_unfinished", [&]() -> Result<std::vector<WorkflowHistory>> {
    std::vector<std::pair<std::int64_t, WorkflowHistory>> found;
    {
      auto q = db_->prepare(std::string("SELECT ") + kSummaryColumns +
                            " FROM workflows WHERE status = 'running' ORDER BY wid");
      while (q.step())
        found.emplace_back(q.int64(0), WorkflowHistory{read_summary(q), {}});
    }
    std::vector<WorkflowHistory> out;
    out.reserve(found.size());
    for (auto& [wid, h] : found) {
      if (auto st = read_records(wid, h); !st)
        return st.error();
      out.push_back(std::move(h));
    }
    return out;
  });
}

std::optional<JournalQueries::SummaryRow> JournalQueries::summary_row(
    const std::string& workflow_id) {
  auto q = db_->prepare(std::string("SELECT ") + kSummaryColumns + " FROM workflows WHERE id = ?1");
  q.bind(1, workflow_id);
  if (!q.step())
    return std::nullopt;
  return SummaryRow{q.int64(0), read_summary(q)};
}

Result<WorkflowHistory> JournalQueries::history(const std::string& workflow_id) {
  std::lock_guard lock(mutex_);
  return guard_sqlite("history", [&]() -> Result<WorkflowHistory> {
    auto row = summary_row(workflow_id);
    if (!row) {
      auto archived = archived_history(*db_, workflow_id);
      if (archived && !archived->has_value())
        return Error::of(codes::kNotFound, "no workflow " + workflow_id);
      if (!archived)
        return archived.error();
      return std::move(**archived);
    }
    WorkflowHistory h{std::move(row->second), {}};
    if (auto st = read_records(row->first, h); !st)
      return st.error();
    return h;
  });
}

Result<std::optional<WorkflowSummary>> JournalQueries::find(const std::string& workflow_id) {
  std::lock_guard lock(mutex_);
  return guard_sqlite("find", [&]() -> Result<std::optional<WorkflowSummary>> {
    auto row = summary_row(workflow_id);
    if (!row)
      return archived_summary(*db_, workflow_id);
    return std::optional<WorkflowSummary>{std::move(row->second)};
  });
}

Result<WorkflowPage> JournalQueries::list(const WorkflowQuery& query) {
  auto position = page_position(query);
  if (!position)
    return position.error();
  const std::int64_t before = *position;  // 0: the first page
  const std::string sql = list_sql(query, before > 0);
  std::lock_guard lock(mutex_);
  return guard_sqlite("list", [&]() -> Result<WorkflowPage> {
    auto q = db_->prepare(sql);
    q.bind(1, query.status ? std::optional(to_string(*query.status)) : std::nullopt)
        .bind(2, query.definition)
        .bind(3, query.created_from)
        .bind(4, query.created_to)
        .bind(5, before)
        .bind(6, query.version ? std::optional<std::int64_t>(*query.version) : std::nullopt)
        .bind(7, query.failing_step)
        .bind(8, static_cast<std::int64_t>(query.limit + 1));
    return read_page(q, query.limit, false);
  });
}

Result<WorkflowPage> JournalQueries::list_archived(const WorkflowQuery& query) {
  std::lock_guard lock(mutex_);
  return guard_sqlite("list_archived",
                      [&]() -> Result<WorkflowPage> { return detail::list_archived(*db_, query); });
}

Result<std::vector<VersionCount>> JournalQueries::running_by_version() {
  std::lock_guard lock(mutex_);
  return guard_sqlite("running_by_version", [&]() -> Result<std::vector<VersionCount>> {
    auto q = db_->prepare(
        "SELECT definition, version, COUNT(*) FROM workflows WHERE status = 'running' "
        "GROUP BY definition, version ORDER BY definition, version");
    std::vector<VersionCount> out;
    while (q.step())
      out.push_back({q.text(0), static_cast<int>(q.int64(1)), q.int64(2)});
    return out;
  });
}

Status JournalQueries::read_records(std::int64_t wid, WorkflowHistory& h) {
  auto q = db_->prepare(kSelectRecords);
  q.bind(1, wid << kSeqBits).bind(2, (wid << kSeqBits) | kMaxSeq);
  while (q.step()) {
    JournalRecord r = read_record(q);
    r.workflow_id = h.summary.id;
    r.data = parse_stored_json(q.text(6));
    if (r.data.is_discarded()) {
      return Error::of(codes::kInternal, "journal record " + h.summary.id + "#" +
                                             std::to_string(r.seq) + " is not valid JSON");
    }
    h.records.push_back(std::move(r));
  }
  return ok_status();
}

}  // namespace wonderland::workflow::detail
