#include "pg_archive.hpp"

#include <string>

namespace wonderland::workflow::pg {
namespace {

/// One batch: picks old finished workflows (the status is checked again on the locked row),
/// deletes them and their records, and inserts each with its records as one archive row. The
/// created_at index narrows the scan (created_at <= updated_at).
std::string archive_sql() {
  return "WITH picked AS (SELECT id FROM workflows WHERE created_at < now() - $1::float8 * "
         "interval '1 millisecond' AND updated_at < now() - $1::float8 * interval '1 "
         "millisecond' AND status IN ('completed', 'failed', 'cancelled') ORDER BY created_at "
         "LIMIT $2 FOR UPDATE SKIP LOCKED), "
         "moved AS (DELETE FROM workflows w USING picked p WHERE w.id = p.id RETURNING w.id, "
         "w.definition, w.version, w.status, w.reason, w.created_at, w.updated_at), "
         "records AS (DELETE FROM events e USING moved m WHERE e.workflow_id = m.id RETURNING "
         "e.workflow_id, e.seq, e.type, e.step, e.attempt, e.at, e.status, e.data), "
         "histories AS (SELECT r.workflow_id, jsonb_agg(jsonb_build_object('seq', r.seq, 'type', "
         "r.type, 'step', r.step, 'attempt', r.attempt, 'at', " +
         iso("r.at") +
         ", 'status', r.status, 'data', r.data) ORDER BY r.seq) AS history FROM records r GROUP "
         "BY r.workflow_id) "
         "INSERT INTO archived_workflows (id, definition, version, status, reason, created_at, "
         "updated_at, archived_at, history) SELECT m.id, m.definition, m.version, m.status, "
         "m.reason, m.created_at, m.updated_at, now(), COALESCE(h.history, '[]'::jsonb) FROM "
         "moved m LEFT JOIN histories h ON h.workflow_id = m.id ON CONFLICT (id) DO NOTHING";
}

}  // namespace

Result<std::size_t> Archiver::archive_finished(std::chrono::milliseconds age, std::size_t limit) {
  if (limit < 1)
    return Error::of(codes::kInvalidArgument, "archive limit must be >= 1");
  std::lock_guard lock(mutex_);
  return guarded(conn_, "archive", [&]() -> Result<std::size_t> {
    pqxx::work tx(conn_.get());
    auto moved = tx.exec_params(archive_sql(), static_cast<double>(age.count()),
                                static_cast<std::int64_t>(limit));
    tx.commit();
    return static_cast<std::size_t>(moved.affected_rows());
  });
}

}  // namespace wonderland::workflow::pg
