// The SQLite journal: one database file in WAL mode, written by one writer thread that groups
// every batch queued while the previous transaction committed into the next transaction
// (group commit). Queries use a second connection and see committed data only.
//
// One journal file belongs to one engine: opening takes an exclusive lock on `<path>.lock`, and
// a second opener (in this or another process) gets `failed_precondition`.
#pragma once

#include <filesystem>
#include <memory>

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
};

/// Opens (creating when needed) the journal at `options.path`.
Result<std::unique_ptr<Journal>> open_sqlite_journal(const SqliteJournalOptions& options);

}  // namespace wonderland::workflow
