// The SQLite journal: one database file in WAL mode, written by one writer thread that groups
// every batch queued while the previous transaction committed into the next transaction
// (group commit). Queries use a second connection and see committed data only.
//
// One journal file belongs to one engine: opening takes an exclusive lock on `<path>.lock`, and
// a second opener (in this or another process) gets `failed_precondition`.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::workflow {

struct SqliteJournalOptions {
  std::filesystem::path path;  ///< The database file; created with its schema when missing.
  /// true: `synchronous=FULL`, a commit survives power loss. false: `NORMAL`, a commit survives
  /// a crash of the process but the last transactions may be lost on power loss.
  bool full_sync = true;
  /// Upper bound of records per transaction; a longer queue is committed in several.
  std::size_t max_records_per_commit = 20000;
  /// A one-time rewrite of the records already in the journal (e.g. to scrub data that must no
  /// longer be kept). When `rewrite` is set and `rewrite_name` is not yet recorded in
  /// `journal_meta`, opening passes every record's data to `rewrite`, which changes it in place
  /// and returns whether it did; the changed records and the name are written in one
  /// transaction, then the WAL is checkpointed and truncated. The journal always runs with
  /// `secure_delete=ON`, so the bytes replaced do not survive in free pages either.
  std::string rewrite_name;
  std::function<bool(nlohmann::json& data)> rewrite;
};

/// Opens (creating when needed) the journal at `options.path`.
Result<std::unique_ptr<Journal>> open_sqlite_journal(const SqliteJournalOptions& options);

}  // namespace wonderland::workflow
