// The SQLite journal's file: its schema and row keys, the lock that gives one engine the file,
// opening and tuning the writer connection, and the one-time rewrite (scrub) of old records.
// A schema migration belongs here too; the journal's reads and writes are in
// sqlite_journal_queries.cpp and sqlite_journal.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/sqlite/db.hpp"
#include "wonderland/workflow/sqlite_journal.hpp"

namespace wonderland::workflow::detail {

/// Record row ids are `wid * 2^kSeqBits + seq`: one integer key keeps a workflow's records
/// together and in order.
inline constexpr int kSeqBits = 24;
inline constexpr std::int64_t kMaxSeq = (std::int64_t{1} << kSeqBits) - 1;

/// The columns read_summary() expects, in its order.
inline constexpr const char* kSummaryColumns =
    "wid, id, definition, version, status, reason, created_at, updated_at";

/// An exclusive advisory lock on a file, held while the object lives.
class FileLock {
 public:
  /// `failed_precondition` when another holder (in this or another process) has it.
  static Result<std::unique_ptr<FileLock>> acquire(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

/// Opens the writer connection of the journal at `options.path` (creating the file and its
/// directory), tunes it, creates the schema and runs the requested rewrite.
Result<std::unique_ptr<sqlite::Db>> open_journal_writer(const SqliteJournalOptions& options);

/// Opens a connection for queries on an existing journal.
Result<std::unique_ptr<sqlite::Db>> open_journal_reader(const std::string& path);

}  // namespace wonderland::workflow::detail
