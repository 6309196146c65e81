#include "pg_schema.hpp"

#include <unistd.h>

#include <array>

#include "pg_connection.hpp"
#include "wonderland/common/error.hpp"

namespace wonderland::workflow::pg {
namespace {

/// Version 1. `wid` orders workflows by creation for list() and its page tokens; a workflow is
/// claimable while it is running and its lease ended (or by its owner); `fence` grows with each
/// claim, and the writer writes only with the fence it remembers.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS workflows (
  wid         bigserial UNIQUE,
  id          text PRIMARY KEY,
  definition  text NOT NULL,
  version     integer NOT NULL,
  status      text NOT NULL,
  reason      text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  owner       text NOT NULL,
  lease_until timestamptz NOT NULL,
  fence       bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS workflows_by_status ON workflows (status, wid);
CREATE INDEX IF NOT EXISTS workflows_by_definition ON workflows (definition, wid);
CREATE INDEX IF NOT EXISTS workflows_by_created ON workflows (created_at);
CREATE INDEX IF NOT EXISTS workflows_claimable ON workflows (lease_until, wid)
  WHERE status = 'running';
CREATE INDEX IF NOT EXISTS workflows_by_owner ON workflows (owner, wid) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS events (
  workflow_id text NOT NULL,
  seq         bigint NOT NULL CHECK (seq >= 1),
  type        text NOT NULL,
  step        text NOT NULL,
  attempt     integer NOT NULL,
  at          timestamptz NOT NULL,
  status      text,
  data        jsonb NOT NULL,
  PRIMARY KEY (workflow_id, seq)
);
CREATE TABLE IF NOT EXISTS mediators (
  instance_id  text PRIMARY KEY,
  token        text NOT NULL,
  host         text NOT NULL,
  pid          integer NOT NULL,
  started_at   timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL
);
)sql";

/// Version 2: retention's archive, one row per finished workflow moved out of `workflows` and
/// `events`, its records in `history` (archived_history_json()'s layout). A jsonb value above
/// about 2 kB is compressed and stored out of line by TOAST, so an archived workflow costs one
/// narrow heap row and one index entry instead of a dozen event rows and their index entries.
/// `aid` orders the archive for list_archived() and its page tokens.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE IF NOT EXISTS archived_workflows (
  aid         bigserial UNIQUE,
  id          text PRIMARY KEY,
  definition  text NOT NULL,
  version     integer NOT NULL,
  status      text NOT NULL,
  reason      text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  archived_at timestamptz NOT NULL,
  history     jsonb NOT NULL
);
)sql";

std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0)
    return "";
  return name.data();
}

}  // namespace

std::string summary_columns() {
  return "wid, id, definition, version, status, reason, " + iso("created_at") + ", " +
         iso("updated_at");
}

void migrate(pqxx::connection& conn, const std::string& schema) {
  pqxx::work tx(conn);
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                 "wonderland.workflow.journal:" + schema);
  if (!schema.empty())
    tx.exec("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(schema));
  tx.exec("CREATE TABLE IF NOT EXISTS journal_meta (key text PRIMARY KEY, value text NOT NULL)");
  auto version = tx.exec("SELECT value FROM journal_meta WHERE key = 'schema_version'");
  if (!version.empty()) {
    const int found = std::stoi(version[0][0].as<std::string>());
    if (found > kSchemaVersion) {
      throw ErrorException(Error::of(
          codes::kFailedPrecondition,
          "journal schema version " + std::to_string(found) + " is newer than this mediator's (" +
              std::to_string(kSchemaVersion) + "): upgrade the mediator"));
    }
    if (found == kSchemaVersion) {
      tx.commit();
      return;
    }
  }
  tx.exec(kSchemaV1);
  tx.exec(kSchemaV2);
  tx.exec_params(
      "INSERT INTO journal_meta (key, value) VALUES ('schema_version', $1) "
      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
      std::to_string(kSchemaVersion));
  tx.commit();
}

void register_mediator(pqxx::connection& conn, const std::string& instance_id,
                       const std::string& token, std::chrono::milliseconds lease) {
  pqxx::work tx(conn);
  // Takes the id when it is free, ours, or its holder's heartbeat is older than a lease.
  auto taken = tx.exec_params(
      "INSERT INTO mediators (instance_id, token, host, pid, started_at, heartbeat_at) "
      "VALUES ($1, $2, $3, $4, now(), now()) ON CONFLICT (instance_id) DO UPDATE SET "
      "token = EXCLUDED.token, host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = now(), "
      "heartbeat_at = now() WHERE mediators.token = EXCLUDED.token OR mediators.heartbeat_at < "
      "now() - $5::float8 * interval '1 millisecond' RETURNING instance_id",
      instance_id, token, host_name(), static_cast<int>(::getpid()),
      static_cast<double>(lease.count()));
  if (taken.empty()) {
    throw ErrorException(Error::of(codes::kFailedPrecondition,
                                   "instance id " + instance_id + " is in use by a live mediator"));
  }
  tx.commit();
}

}  // namespace wonderland::workflow::pg
