#include "pg_queries.hpp"

#include <exception>
#include <map>

#include "pg_schema.hpp"
#include "wonderland/common/json_parse.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::workflow::pg {
namespace {

WorkflowSummary read_summary(const pqxx::row& row) {
  WorkflowSummary w;
  w.id = row[1].as<std::string>();
  w.definition = row[2].as<std::string>();
  w.version = row[3].as<int>();
  w.status = parse_status(row[4].as<std::string>()).value_or(WorkflowStatus::kRunning);
  w.reason = row[5].as<std::string>();
  w.created_at = row[6].as<std::string>();
  w.updated_at = row[7].as<std::string>();
  return w;
}

JournalRecord read_record(const pqxx::row& row) {
  JournalRecord r;
  r.workflow_id = row[0].as<std::string>();
  r.seq = row[1].as<std::int64_t>();
  r.type = row[2].as<std::string>();
  r.step = row[3].as<std::string>();
  r.attempt = row[4].as<int>();
  r.at = row[5].as<std::string>();
  if (!row[6].is_null())
    r.status = parse_status(row[6].as<std::string>());
  r.data = parse_stored_json(std::string_view(row[7].c_str(), row[7].size()));
  if (r.data.is_discarded()) {
    throw ErrorException(Error::of(
        codes::kInternal,
        "journal record " + r.workflow_id + "#" + std::to_string(r.seq) + " is not valid JSON"));
  }
  return r;
}

std::string records_sql() {
  return "SELECT workflow_id, seq, type, step, attempt, " + iso("at") +
         ", status, data::text FROM events WHERE workflow_id = ANY($1::text[]) "
         "ORDER BY workflow_id, seq";
}

/// The step a failed or needs_attention workflow failed at (failing_step() in journal.hpp), from
/// its own records (the primary key's order).
constexpr const char* kFailingStep =
    "(CASE status WHEN 'failed' THEN (SELECT e.data->>'step' FROM events e WHERE e.workflow_id "
    "= workflows.id AND e.type = 'failed' ORDER BY e.seq DESC LIMIT 1) WHEN 'needs_attention' "
    "THEN (SELECT e.step FROM events e WHERE e.workflow_id = workflows.id AND e.type = "
    "'compensation_failed' ORDER BY e.seq DESC LIMIT 1) END)";

/// The SQL of a list query: every filter is a parameter that is empty when unset.
std::string list_sql() {
  return "SELECT " + summary_columns() +
         " FROM workflows WHERE ($1 = '' OR status = $1) AND ($2::boolean IS FALSE OR "
         "definition = $3) AND ($4 = '' OR created_at >= $4::timestamptz) AND ($5 = '' OR "
         "created_at < $5::timestamptz) AND ($6::bigint = 0 OR wid < $6::bigint) "
         "AND ($8::boolean IS FALSE OR version = $9::integer) AND ($10::boolean IS FALSE OR " +
         std::string(kFailingStep) + " = $11) ORDER BY wid DESC LIMIT $7";
}

std::string archived_sql(bool with_history) {
  return "SELECT aid, id, definition, version, status, reason, " + iso("created_at") + ", " +
         iso("updated_at") + (with_history ? ", history::text" : "") +
         " FROM archived_workflows WHERE id = $1";
}

WorkflowSummary read_archived(const pqxx::row& row) {
  WorkflowSummary w = read_summary(row);
  w.archived = true;
  return w;
}

/// Checks a created_from / created_to bound: it must be an ISO-8601 time.
bool bad_time(const std::optional<std::string>& t) {
  return t && !parse_iso8601(*t);
}

}  // namespace

std::vector<WorkflowHistory> Queries::load(pqxx::work& tx, const std::vector<std::string>& ids) {
  std::vector<WorkflowHistory> out;
  if (ids.empty())
    return out;
  const std::string array = text_array(ids);
  std::map<std::string, std::size_t> index;
  for (const auto& row : tx.exec_params("SELECT " + summary_columns() +
                                            " FROM workflows WHERE id = ANY($1::text[]) "
                                            "ORDER BY wid",
                                        array)) {
    index[row[1].as<std::string>()] = out.size();
    out.push_back(WorkflowHistory{read_summary(row), {}});
  }
  for (const auto& row : tx.exec_params(records_sql(), array)) {
    JournalRecord r = read_record(row);
    if (auto it = index.find(r.workflow_id); it != index.end())
      out[it->second].records.push_back(std::move(r));
  }
  return out;
}

Result<WorkflowHistory> Queries::history(const std::string& workflow_id) {
  std::lock_guard lock(mutex_);
  return guarded(conn_, "history", [&]() -> Result<WorkflowHistory> {
    pqxx::work tx(conn_.get());
    auto found = load(tx, {workflow_id});
    if (!found.empty())
      return std::move(found.front());
    auto rows = tx.exec_params(archived_sql(true), workflow_id);
    if (rows.empty())
      return Error::of(codes::kNotFound, "no workflow " + workflow_id);
    auto records = parse_archived_history(workflow_id, rows[0][8].as<std::string>());
    if (!records)
      return records.error();
    return WorkflowHistory{read_archived(rows[0]), std::move(*records)};
  });
}

Result<std::optional<WorkflowSummary>> Queries::find(const std::string& workflow_id) {
  std::lock_guard lock(mutex_);
  return guarded(conn_, "find", [&]() -> Result<std::optional<WorkflowSummary>> {
    pqxx::work tx(conn_.get());
    auto rows = tx.exec_params("SELECT " + summary_columns() + " FROM workflows WHERE id = $1",
                               workflow_id);
    if (!rows.empty())
      return std::optional<WorkflowSummary>{read_summary(rows[0])};
    rows = tx.exec_params(archived_sql(false), workflow_id);
    if (rows.empty())
      return std::optional<WorkflowSummary>{};
    return std::optional<WorkflowSummary>{read_archived(rows[0])};
  });
}

Result<WorkflowPage> Queries::list(const WorkflowQuery& query) {
  auto position = page_position(query);
  if (!position)
    return position.error();
  if (bad_time(query.created_from) || bad_time(query.created_to))
    return Error::of(codes::kInvalidArgument, "created_from/created_to must be ISO-8601 times");
  const std::int64_t before = *position;
  std::lock_guard lock(mutex_);
  return guarded(conn_, "list", [&]() -> Result<WorkflowPage> {
    pqxx::work tx(conn_.get());
    auto rows = tx.exec_params(
        list_sql(), query.status ? std::string(to_string(*query.status)) : std::string(),
        query.definition.has_value(), query.definition.value_or(""),
        query.created_from.value_or(""), query.created_to.value_or(""), before,
        static_cast<std::int64_t>(query.limit + 1), query.version.has_value(),
        query.version.value_or(0), query.failing_step.has_value(), query.failing_step.value_or(""));
    WorkflowPage page;
    std::int64_t last_wid = 0;
    for (const auto& row : rows) {
      if (page.items.size() == query.limit) {
        page.next_page_token = std::to_string(last_wid);
        break;
      }
      last_wid = row[0].as<std::int64_t>();
      page.items.push_back(read_summary(row));
    }
    return page;
  });
}

Result<WorkflowPage> Queries::list_archived(const WorkflowQuery& query) {
  auto position = page_position(query);
  if (!position)
    return position.error();
  const std::int64_t before = *position;
  std::lock_guard lock(mutex_);
  return guarded(conn_, "list_archived", [&]() -> Result<WorkflowPage> {
    pqxx::work tx(conn_.get());
    auto rows = tx.exec_params(
        "SELECT aid, id, definition, version, status, reason, " + iso("created_at") + ", " +
            iso("updated_at") +
            " FROM archived_workflows WHERE ($1 = '' OR status = $1) AND ($2 = '' OR "
            "definition = $2) AND ($3::bigint = 0 OR aid < $3::bigint) ORDER BY aid DESC "
            "LIMIT $4",
        query.status ? std::string(to_string(*query.status)) : std::string(),
        query.definition.value_or(""), before, static_cast<std::int64_t>(query.limit + 1));
    WorkflowPage page;
    std::int64_t last = 0;
    for (const auto& row : rows) {
      if (page.items.size() == query.limit) {
        page.next_page_token = std::to_string(last);
        break;
      }
      last = row[0].as<std::int64_t>();
      page.items.push_back(read_archived(row));
    }
    return page;
  });
}

Result<std::vector<VersionCount>> Queries::running_by_version() {
  std::lock_guard lock(mutex_);
  return guarded(conn_, "running_by_version", [&]() -> Result<std::vector<VersionCount>> {
    pqxx::work tx(conn_.get());
    auto rows = tx.exec(
        "SELECT definition, version, COUNT(*) FROM workflows WHERE status = 'running' "
        "GROUP BY definition, version ORDER BY definition, version");
    std::vector<VersionCount> out;
    for (const auto& row : rows) {
      out.push_back({row[0].as<std::string>(), row[1].as<int>(), row[2].as<std::int64_t>()});
    }
    return out;
  });
}

}  // namespace wonderland::workflow::pg
