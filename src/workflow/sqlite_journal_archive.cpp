#include "sqlite_journal_archive.hpp"

#include <utility>
#include <vector>

#include "sqlite_journal_schema.hpp"
#include "wonderland/common/json_text.hpp"

namespace wonderland::workflow::detail {
namespace {

// created_at <= updated_at: the created_at index narrows the scan to old workflows.
constexpr const char* kCandidates =
    "SELECT wid FROM workflows WHERE created_at < ?1 AND updated_at < ?1 AND status IN "
    "('completed', 'failed', 'cancelled') ORDER BY created_at LIMIT ?2";
constexpr const char* kInsertArchived =
    "INSERT OR IGNORE INTO archived_workflows(id, definition, version, status, reason, "
    "created_at, updated_at, archived_at, history) SELECT id, definition, version, status, "
    "reason, created_at, updated_at, ?2, ?3 FROM workflows WHERE wid = ?1";
constexpr const char* kRestoreWorkflow =
    "INSERT INTO workflows(id, definition, version, status, reason, created_at, updated_at) "
    "SELECT id, definition, version, status, reason, created_at, updated_at FROM "
    "archived_workflows WHERE id = ?1";
constexpr const char* kInsertEvent =
    "INSERT INTO events(rid, type, step, attempt, at, status, data) "
    "VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kArchivedColumns =
    "rowid, id, definition, version, status, reason, created_at, updated_at, history";

/// The history document of workflow row `wid`, built from its event rows as they are stored.
std::string history_document(sqlite::Db& db, std::int64_t wid) {
  std::string out = "[";
  auto q = db.prepare(kSelectRecords);
  q.bind(1, wid << kSeqBits).bind(2, (wid << kSeqBits) | kMaxSeq);
  while (q.step())
    append_archived_record(out, read_record(q), q.text(6));
  out += ']';
  return out;
}

void move_workflow(sqlite::Db& db, std::int64_t wid, const std::string& archived_at) {
  const std::string history = history_document(db, wid);
  db.prepare(kInsertArchived).bind(1, wid).bind(2, archived_at).bind_static(3, history).step();
  db.prepare("DELETE FROM events WHERE rid BETWEEN ?1 AND ?2")
      .bind(1, wid << kSeqBits)
      .bind(2, (wid << kSeqBits) | kMaxSeq)
      .step();
  db.prepare("DELETE FROM workflows WHERE wid = ?1").bind(1, wid).step();
}

}  // namespace

void insert_record(sqlite::Db& db, std::int64_t wid, const JournalRecord& r,
                   const std::string& data) {
  auto e = db.prepare(kInsertEvent);
  e.bind(1, (wid << kSeqBits) | r.seq)
      .bind_static(3, r.type)
      .bind_static(4, r.step)
      .bind(5, static_cast<std::int64_t>(r.attempt))
      .bind_static(6, r.at)
      .bind_static(8, data);
  if (r.status)
    e.bind_static(7, to_string(*r.status));
  e.step();
}

Result<std::optional<std::int64_t>> restore_archived(sqlite::Db& db,
                                                     const std::string& workflow_id) {
  auto archived = archived_history(db, workflow_id);
  if (!archived)
    return archived.error();
  if (!*archived)
    return std::optional<std::int64_t>{};
  db.prepare(kRestoreWorkflow).bind(1, workflow_id).step();
  const std::int64_t wid = db.last_insert_rowid();
  for (const JournalRecord& r : (*archived)->records)
    insert_record(db, wid, r, to_json_text(r.data));
  db.prepare("DELETE FROM archived_workflows WHERE id = ?1").bind(1, workflow_id).step();
  return std::optional<std::int64_t>{wid};
}

JournalRecord read_record(const sqlite::Statement& q) {
  JournalRecord r;
  r.seq = q.int64(0) & kMaxSeq;
  r.type = q.text(1);
  r.step = q.text(2);
  r.attempt = static_cast<int>(q.int64(3));
  r.at = q.text(4);
  if (!q.is_null(5))
    r.status = parse_status(q.text(5));
  return r;
}

WorkflowSummary read_summary(const sqlite::Statement& s, bool archived) {
  WorkflowSummary w;
  w.id = s.text(1);
  w.definition = s.text(2);
  w.version = static_cast<int>(s.int64(3));
  w.status = parse_status(s.text(4)).value_or(WorkflowStatus::kRunning);
  w.reason = s.text(5);
  w.created_at = s.text(6);
  w.updated_at = s.text(7);
  w.archived = archived;
  return w;
}

WorkflowPage read_page(sqlite::Statement& q, std::size_t limit, bool archived) {
  WorkflowPage page;
  std::int64_t last = 0;
  while (q.step()) {
    if (page.items.size() == limit) {
      page.next_page_token = std::to_string(last);
      break;
    }
    last = q.int64(0);
    page.items.push_back(read_summary(q, archived));
  }
  return page;
}

std::size_t archive_finished(sqlite::Db& db, const std::string& cutoff, std::size_t limit,
                             const std::string& archived_at) {
  sqlite::Transaction tx(db);
  std::vector<std::int64_t> wids;
  {
    auto q = db.prepare(kCandidates);
    q.bind(1, cutoff).bind(2, static_cast<std::int64_t>(limit));
    while (q.step())
      wids.push_back(q.int64(0));
  }
  for (std::int64_t wid : wids)
    move_workflow(db, wid, archived_at);
  tx.commit();
  return wids.size();
}

Result<std::optional<WorkflowHistory>> archived_history(sqlite::Db& db,
                                                        const std::string& workflow_id) {
  auto q = db.prepare(std::string("SELECT ") + kArchivedColumns +
                      " FROM archived_workflows WHERE id = ?1");
  q.bind(1, workflow_id);
  if (!q.step())
    return std::optional<WorkflowHistory>{};
  WorkflowHistory h{read_summary(q, true), {}};
  auto records = parse_archived_history(workflow_id, q.text(8));
  if (!records)
    return records.error();
  h.records = std::move(*records);
  return std::optional<WorkflowHistory>{std::move(h)};
}

std::optional<WorkflowSummary> archived_summary(sqlite::Db& db, const std::string& workflow_id) {
  auto q = db.prepare(
      "SELECT rowid, id, definition, version, status, reason, created_at, updated_at FROM "
      "archived_workflows WHERE id = ?1");
  q.bind(1, workflow_id);
  if (!q.step())
    return std::nullopt;
  return read_summary(q, true);
}

Result<WorkflowPage> list_archived(sqlite::Db& db, const WorkflowQuery& query) {
  auto position = page_position(query);
  if (!position)
    return position.error();
  const std::int64_t before = *position;  // 0: the first page
  auto q = db.prepare(
      "SELECT rowid, id, definition, version, status, reason, created_at, updated_at FROM "
      "archived_workflows WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR definition = ?2) "
      "AND (?3 = 0 OR rowid < ?3) ORDER BY rowid DESC LIMIT ?4");
  q.bind(1, query.status ? std::optional(std::string(to_string(*query.status))) : std::nullopt)
      .bind(2, query.definition)
      .bind(3, before)
      .bind(4, static_cast<std::int64_t>(query.limit + 1));
  return read_page(q, query.limit, true);
}

}  // namespace wonderland::workflow::detail
