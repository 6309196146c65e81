// The PostgreSQL journal's second connection: the monitoring queries (pg_queries.cpp) and the
// lease calls, claim, renew and release (pg_leases.cpp). One call at a time; a lost connection
// is reopened by the next call.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pg_connection.hpp"
#include "pg_ownership.hpp"
#include "wonderland/workflow/journal.hpp"
#include "wonderland/workflow_pg/pg_journal.hpp"

namespace wonderland::workflow::pg {

struct QueryOptions {
  std::string instance_id;
  std::string token;  ///< This journal's registration in `mediators`.
  std::chrono::milliseconds lease;
  std::size_t claim_limit;
};

class Queries {
 public:
  Queries(QueryOptions options, Connection conn, Ownership& ownership)
      : options_(std::move(options)), conn_(std::move(conn)), ownership_(ownership) {}

  Result<WorkflowHistory> history(const std::string& workflow_id);
  Result<std::optional<WorkflowSummary>> find(const std::string& workflow_id);
  Result<WorkflowPage> list(const WorkflowQuery& query);
  Result<WorkflowPage> list_archived(const WorkflowQuery& query);
  Result<std::vector<VersionCount>> running_by_version();

  /// Claims running workflows whose lease ended; with `mine_too`, also those this mediator
  /// owns. Returns them with their records.
  Result<std::vector<WorkflowHistory>> claim(bool mine_too);
  Status renew();
  Status release();
  Result<std::vector<MediatorInfo>> mediators();
  Result<std::optional<WorkflowOwner>> owner_of(const std::string& workflow_id);
  Result<bool> claim_settled(const std::string& workflow_id);

 private:
  /// The summaries and records of `ids` (in creation order); the caller holds mutex_.
  std::vector<WorkflowHistory> load(pqxx::work& tx, const std::vector<std::string>& ids);
  /// Marks lost those of `owned` (not renewed) whose row changed owner or fence.
  void check_lost(pqxx::work& tx, const std::vector<std::pair<std::string, std::int64_t>>& owned);

  QueryOptions options_;
  std::mutex mutex_;
  Connection conn_;
  Ownership& ownership_;
};

}  // namespace wonderland::workflow::pg
