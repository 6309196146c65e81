// The PostgreSQL journal's schema, its version check and the registration of a mediator.
// A schema migration belongs here; reads are in pg_queries.cpp, writes in pg_writer.cpp.
#pragma once

#include <chrono>
#include <pqxx/pqxx>
#include <string>

namespace wonderland::workflow::pg {

/// The schema version this code writes and reads (`journal_meta.schema_version`).
inline constexpr int kSchemaVersion = 2;

/// The columns read_summary() expects, in its order (pg_queries.cpp).
std::string summary_columns();

/// Creates the schema and its tables when missing, in one transaction serialised by an advisory
/// lock. Throws ErrorException `failed_precondition` when the journal's schema version is newer
/// than kSchemaVersion; libpqxx exceptions otherwise.
void migrate(pqxx::connection& conn, const std::string& schema);

/// Registers `instance_id` with this journal's `token`. Throws ErrorException
/// `failed_precondition` when another live mediator (another token, a heartbeat younger than
/// `lease`) has the id.
void register_mediator(pqxx::connection& conn, const std::string& instance_id,
                       const std::string& token, std::chrono::milliseconds lease);

}  // namespace wonderland::workflow::pg
