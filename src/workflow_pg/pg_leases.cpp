// The lease calls of the PostgreSQL journal: claiming workflows, renewing and ending leases,
// and the list of mediators.
#include <unordered_map>

#include "pg_connection.hpp"
#include "pg_queries.hpp"

namespace wonderland::workflow::pg {
namespace {

constexpr const char* kLeaseEnd = "now() + $2::float8 * interval '1 millisecond'";

/// Claims up to $3 running workflows matching `condition` for $1 (a lease of $2 ms), bumping
/// their fence. SKIP LOCKED: workflows a writer is writing are left for a later claim.
std::string claim_sql(const std::string& condition) {
  return std::string("UPDATE workflows SET owner = $1, lease_until = ") + kLeaseEnd +
         ", fence = fence + 1 WHERE id IN (SELECT id FROM workflows WHERE status = 'running' "
         "AND " +
         condition + " ORDER BY wid LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id, fence";
}

/// Whether mediator `who` (an SQL expression) is registered with a heartbeat younger than the
/// lease ($2 ms).
std::string alive_sql(const std::string& who) {
  return "EXISTS (SELECT 1 FROM mediators m WHERE m.instance_id = " + who +
         " AND m.heartbeat_at > now() - $2::float8 * interval '1 millisecond')";
}

}  // namespace

Result<std::vector<WorkflowHistory>> Queries::claim(bool mine_too) {
  // Expired leases include this mediator's own: workflows it dropped when its leases lapsed.
  // Its live workflows are never expired here, since renew() extends them (and owns() is
  // false for them once renew() has failed for long enough, see Ownership::take_lost).
  const std::string sql =
      claim_sql(mine_too ? "(owner = $1 OR lease_until < now())" : "lease_until < now()");
  std::lock_guard lock(mutex_);
  return guarded(conn_, "claim", [&]() -> Result<std::vector<WorkflowHistory>> {
    std::vector<std::string> ids;
    {
      pqxx::work tx(conn_.get());
      auto rows =
          tx.exec_params(sql, options_.instance_id, static_cast<double>(options_.lease.count()),
                         static_cast<std::int64_t>(options_.claim_limit));
      // Held across the commit: the writer must not compare a claimed row's new fence with
      // the old one it remembers.
      auto owned = ownership_.lock();
      tx.commit();
      for (const auto& row : rows) {
        ids.push_back(row[0].as<std::string>());
        ownership_.own_locked(ids.back(), row[1].as<std::int64_t>());
      }
    }
    pqxx::work tx(conn_.get());
    return load(tx, ids);
  });
}

Status Queries::renew() {
  std::lock_guard lock(mutex_);
  return guarded(conn_, "renew", [&]() -> Status {
    const auto sent = std::chrono::steady_clock::now();
    const auto before = ownership_.owned();
    pqxx::work tx(conn_.get());
    auto me = tx.exec_params(
        "UPDATE mediators SET heartbeat_at = now() WHERE instance_id = $1 AND token = $2",
        options_.instance_id, options_.token);
    if (me.affected_rows() == 0) {
      return Error::of(codes::kFailedPrecondition,
                       "instance id " + options_.instance_id +
                           " is no longer registered to this mediator (released or taken over)");
    }
    // Only the workflows this mediator still drives: one it dropped must expire for a claim.
    std::vector<std::string> ids;
    ids.reserve(before.size());
    for (const auto& entry : before)
      ids.push_back(entry.first);
    // Rows locked in id order, as the writer locks them: two transactions never wait on each
    // other in a cycle.
    auto rows = tx.exec_params(std::string("UPDATE workflows SET lease_until = ") + kLeaseEnd +
                                   " WHERE id IN (SELECT id FROM workflows WHERE owner = $1 AND "
                                   "status = 'running' AND id = ANY($3::text[]) ORDER BY id FOR "
                                   "UPDATE) RETURNING id, fence",
                               options_.instance_id, static_cast<double>(options_.lease.count()),
                               text_array(ids));
    std::unordered_map<std::string, std::int64_t> renewed;
    for (const auto& row : rows)
      renewed[row[0].as<std::string>()] = row[1].as<std::int64_t>();
    std::vector<std::pair<std::string, std::int64_t>> missing;
    for (const auto& [id, fence] : before) {
      auto it = renewed.find(id);
      if (it == renewed.end())
        missing.emplace_back(id, fence);
      else if (it->second != fence)
        ownership_.lose(id, fence);
    }
    check_lost(tx, missing);
    tx.commit();
    ownership_.renewed(sent);
    return ok_status();
  });
}

void Queries::check_lost(pqxx::work& tx,
                         const std::vector<std::pair<std::string, std::int64_t>>& owned) {
  if (owned.empty())
    return;
  // Not renewed: settled or started since the snapshot (still ours), or taken over (lost).
  std::vector<std::string> ids;
  ids.reserve(owned.size());
  for (const auto& entry : owned)
    ids.push_back(entry.first);
  std::unordered_map<std::string, std::pair<std::string, std::int64_t>> rows;
  for (const auto& row : tx.exec_params(
           "SELECT id, owner, fence FROM workflows WHERE id = ANY($1::text[])", text_array(ids))) {
    rows[row[0].as<std::string>()] = {row[1].as<std::string>(), row[2].as<std::int64_t>()};
  }
  for (const auto& [id, fence] : owned) {
    auto it = rows.find(id);
    if (it == rows.end() || it->second.first != options_.instance_id || it->second.second != fence)
      ownership_.lose(id, fence);
  }
}

Status Queries::release() {
  std::lock_guard lock(mutex_);
  return guarded(conn_, "release", [&]() -> Status {
    pqxx::work tx(conn_.get());
    tx.exec_params(
        "UPDATE workflows SET lease_until = now() WHERE owner = $1 AND status = 'running'",
        options_.instance_id);
    tx.exec_params("DELETE FROM mediators WHERE instance_id = $1 AND token = $2",
                   options_.instance_id, options_.token);
    ownership_.release();
    tx.commit();
    return ok_status();
  });
}

Result<std::optional<WorkflowOwner>> Queries::owner_of(const std::string& workflow_id) {
  std::lock_guard lock(mutex_);
  return guarded(conn_, "owner", [&]() -> Result<std::optional<WorkflowOwner>> {
    pqxx::work tx(conn_.get());
    auto rows = tx.exec_params("SELECT owner, status = 'running', lease_until < now(), " +
                                   alive_sql("w.owner") + " FROM workflows w WHERE w.id = $1",
                               workflow_id, static_cast<double>(options_.lease.count()));
    if (rows.empty())
      return std::optional<WorkflowOwner>{};
    const auto& row = rows[0];
    return std::optional<WorkflowOwner>{WorkflowOwner{row[0].as<std::string>(), row[1].as<bool>(),
                                                      row[2].as<bool>(), row[3].as<bool>()}};
  });
}

Result<bool> Queries::claim_settled(const std::string& workflow_id) {
  std::lock_guard lock(mutex_);
  return guarded(conn_, "claim settled", [&]() -> Result<bool> {
    pqxx::work tx(conn_.get());
    // The fence moves on, as on any claim: a writer of the old owner could not write it any
    // more (it is gone, but it may only be paused).
    auto rows = tx.exec_params(
        "UPDATE workflows w SET owner = $1, fence = fence + 1 WHERE w.id = $3 AND w.status <> "
        "'running' AND w.owner <> $1 AND NOT " +
            alive_sql("w.owner"),
        options_.instance_id, static_cast<double>(options_.lease.count()), workflow_id);
    tx.commit();
    return rows.affected_rows() == 1;
  });
}

Result<std::vector<MediatorInfo>> Queries::mediators() {
  std::lock_guard lock(mutex_);
  return guarded(conn_, "mediators", [&]() -> Result<std::vector<MediatorInfo>> {
    pqxx::work tx(conn_.get());
    auto rows = tx.exec_params(
        "SELECT m.instance_id, " + iso("m.started_at") + ", " + iso("m.heartbeat_at") +
            ", (SELECT count(*) FROM workflows w WHERE w.owner = m.instance_id AND "
            "w.status = 'running'), m.heartbeat_at > now() - $1::float8 * interval "
            "'1 millisecond' FROM mediators m ORDER BY m.instance_id",
        static_cast<double>(options_.lease.count()));
    std::vector<MediatorInfo> out;
    for (const auto& row : rows) {
      out.push_back(MediatorInfo{row[0].as<std::string>(), row[1].as<std::string>(),
                                 row[2].as<std::string>(), row[3].as<std::int64_t>(),
                                 row[4].as<bool>()});
    }
    return out;
  });
}

}  // namespace wonderland::workflow::pg
