#include "sqlite_journal_schema.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <utility>
#include <vector>

#include "sqlite_errors.hpp"
#include "wonderland/common/json_text.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::workflow::detail {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS journal_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO journal_meta(key, value) VALUES ('schema_version', '1');
CREATE TABLE IF NOT EXISTS workflows(
  wid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  definition TEXT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS workflows_by_status ON workflows(status, wid);
CREATE INDEX IF NOT EXISTS workflows_by_definition ON workflows(definition, wid);
CREATE INDEX IF NOT EXISTS workflows_by_created ON workflows(created_at);
-- rid = wid * 2^24 + seq: one integer key keeps a workflow's records together, in order, and
-- makes inserts cheap appends near the end of the table.
CREATE TABLE IF NOT EXISTS events(
  rid INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  step TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at TEXT NOT NULL,
  status TEXT,
  data TEXT NOT NULL);
-- Retention: one row per finished workflow moved out of `workflows` and `events`, its records
-- in `history` as one JSON array (archived_history_json()).
CREATE TABLE IF NOT EXISTS archived_workflows(
  id TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  archived_at TEXT NOT NULL,
  history TEXT NOT NULL);
)sql";

/// Whether the rewrite `meta_key` already ran.
bool rewrite_done(sqlite::Db& db, const std::string& meta_key) {
  auto done = db.prepare("SELECT 1 FROM journal_meta WHERE key = ?1");
  done.bind(1, meta_key);
  return done.step();
}

/// The records that `rewrite` changes: row id and new data. Everything is read before anything
/// is written, so no update runs under an open cursor of the same table.
std::vector<std::pair<std::int64_t, std::string>> rewritten_records(
    sqlite::Db& db, const SqliteJournalOptions& options) {
  std::vector<std::pair<std::int64_t, std::string>> changed;
  auto q = db.prepare("SELECT rid, data FROM events ORDER BY rid");
  while (q.step()) {
    nlohmann::json data = nlohmann::json::parse(q.text(1), nullptr, false);
    if (data.is_discarded())
      continue;
    if (options.rewrite(data))
      changed.emplace_back(q.int64(0), to_json_text(data));
  }
  return changed;
}

/// Runs options.rewrite over every record once (see SqliteJournalOptions::rewrite).
void rewrite_records(sqlite::Db& db, const SqliteJournalOptions& options) {
  const std::string meta_key = "rewrite:" + options.rewrite_name;
  if (rewrite_done(db, meta_key))
    return;
  sqlite::Transaction tx(db);
  const auto changed = rewritten_records(db, options);
  auto update = db.prepare("UPDATE events SET data = ?2 WHERE rid = ?1");
  for (const auto& [rid, data] : changed) {
    update.reset();
    update.bind(1, rid).bind(2, data).step();
  }
  const std::string note =
      std::to_string(changed.size()) + " records rewritten at " + now_iso8601();
  db.prepare("INSERT INTO journal_meta(key, value) VALUES (?1, ?2)")
      .bind(1, meta_key)
      .bind(2, note)
      .step();
  tx.commit();
  // The old versions of the pages are in the WAL until a checkpoint; copy the new ones back and
  // empty it.
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

Result<std::unique_ptr<sqlite::Db>> open_db(const std::string& path,
                                            const sqlite::Options& options) {
  try {
    return std::make_unique<sqlite::Db>(path, options);
  } catch (const std::exception& e) {
    return Error::of(codes::kUnavailable, "cannot open " + path + ": " + e.what());
  }
}

}  // namespace

Result<std::unique_ptr<FileLock>> FileLock::acquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error::of(codes::kUnavailable, "cannot open " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Error::of(codes::kFailedPrecondition,
                       path + ": the journal is in use by another engine");
    }
    return Error::of(codes::kUnavailable, "cannot lock " + path + ": " + std::strerror(err));
  }
  return std::unique_ptr<FileLock>(new FileLock(fd));
}

FileLock::~FileLock() {
  ::close(fd_);
}

Result<std::unique_ptr<sqlite::Db>> open_journal_writer(const SqliteJournalOptions& options) {
  const std::string path = options.path.string();
  auto db = open_db(path, {.synchronous = options.full_sync ? "FULL" : "NORMAL"});
  if (!db)
    return db.error();
  auto configured = guard_sqlite("open", [&]() -> Status {
    // A 2 MiB page cache, SQLite's default size. A larger one costs every commit that splits a
    // page: SQLite's B-tree renumbers the split pages through a spare page number past the end of
    // the file, and at commit the page cache then walks all its pages to drop those past the end.
    // With a long history the cache is full, and a 16 MiB one made that walk take 78 us (p50)
    // where 2 MiB takes 25 us; the pages it kept hot saved no measurable time. The checkpoint
    // interval lets pages rewritten by consecutive commits be copied back once.
    (*db)->exec("PRAGMA cache_size=-2048; PRAGMA wal_autocheckpoint=4000");
    (*db)->exec("PRAGMA secure_delete=ON");
    (*db)->exec(kSchema);
    return ok_status();
  });
  if (!configured)
    return configured.error();
  if (options.rewrite && !options.rewrite_name.empty()) {
    auto rewritten = guard_sqlite("rewrite", [&]() -> Status {
      rewrite_records(**db, options);
      return ok_status();
    });
    if (!rewritten) {
      return Error::of(rewritten.error().code, "journal rewrite '" + options.rewrite_name +
                                                   "': " + rewritten.error().message);
    }
  }
  return db;
}

Result<std::unique_ptr<sqlite::Db>> open_journal_reader(const std::string& path) {
  return open_db(path, {.create = false});
}

}  // namespace wonderland::workflow::detail
