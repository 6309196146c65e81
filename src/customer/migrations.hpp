// Schema migrations of the customer service, applied when the service starts.
//
// The applied versions are listed in `<schema>.schema_migrations(version, name, applied_at)`.
// `migrate` applies the missing ones in version order, all in one transaction that first takes
// a transaction-level advisory lock for the schema, so that several starting processes neither
// race nor apply a migration twice; each migration is also written to be idempotent in itself
// (IF NOT EXISTS). A failed migration rolls the whole run back.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "database.hpp"

namespace wonderland::customer {

struct Migration {
  int version;
  std::string name;
  std::string sql;  ///< statements without parameters, run with search_path = the schema
};

/// Every migration, in increasing version order.
const std::vector<Migration>& migrations();

/// Creates the schema when missing and applies the missing migrations; returns how many it
/// applied (0 when up to date). Throws on failure (pqxx exceptions; nothing is left half-done).
int migrate(Database& db);

/// `migrate`, retried every second while the database cannot be reached (refused, lost,
/// starting up or shutting down) for up to `timeout`. Throws the last failure after that, and
/// at once any other failure.
void migrate_when_reachable(Database& db, std::chrono::seconds timeout);

/// The versions recorded in schema_migrations, ascending.
std::vector<int> applied_migrations(Database& db);

}  // namespace wonderland::customer
