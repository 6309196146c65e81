#include "wonderland/workflow/sqlite_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "sqlite.hpp"
#include "wonderland/common/json_text.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::workflow {
namespace {

using sqlite::Database;
using sqlite::Statement;

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
)sql";

constexpr int kSeqBits = 24;
constexpr std::int64_t kMaxSeq = (std::int64_t{1} << kSeqBits) - 1;

constexpr const char* kSummaryColumns =
    "wid, id, definition, version, status, reason, created_at, updated_at";

/// An exclusive advisory lock on a file, held while the object lives.
class FileLock {
 public:
  static Result<std::unique_ptr<FileLock>> acquire(const std::string& path) {
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
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

WorkflowSummary read_summary(const Statement& s) {
  WorkflowSummary w;
  w.id = s.column_text(1);
  w.definition = s.column_text(2);
  w.version = static_cast<int>(s.column_int(3));
  w.status = parse_status(s.column_text(4)).value_or(WorkflowStatus::kRunning);
  w.reason = s.column_text(5);
  w.created_at = s.column_text(6);
  w.updated_at = s.column_text(7);
  return w;
}

/// Runs options.rewrite over every record once (see SqliteJournalOptions::rewrite).
Status rewrite_records(Database& db, const SqliteJournalOptions& options) {
  const std::string meta_key = "rewrite:" + options.rewrite_name;
  {
    auto done = db.prepare("SELECT 1 FROM journal_meta WHERE key = ?1");
    if (!done)
      return done.error();
    done->bind(1, std::string_view(meta_key));
    auto row = done->step();
    if (!row)
      return row.error();
    if (*row)
      return ok_status();
  }
  sqlite::Transaction tx(db);
  if (auto st = tx.begin(); !st)
    return st;
  // Read everything first, then write: no update runs under an open cursor of the same table.
  std::vector<std::pair<std::int64_t, std::string>> changed;
  {
    auto q = db.prepare("SELECT rid, data FROM events ORDER BY rid");
    if (!q)
      return q.error();
    for (;;) {
      auto row = q->step();
      if (!row)
        return row.error();
      if (!*row)
        break;
      nlohmann::json data = nlohmann::json::parse(q->column_text(1), nullptr, false);
      if (data.is_discarded())
        continue;
      if (options.rewrite(data))
        changed.emplace_back(q->column_int(0), to_json_text(data));
    }
  }
  auto update = db.prepare("UPDATE events SET data = ?2 WHERE rid = ?1");
  if (!update)
    return update.error();
  for (const auto& [rid, data] : changed) {
    update->reset();
    update->bind(1, rid);
    update->bind(2, std::string_view(data));
    if (auto st = update->step(); !st)
      return st.error();
  }
  auto mark = db.prepare("INSERT INTO journal_meta(key, value) VALUES (?1, ?2)");
  if (!mark)
    return mark.error();
  mark->bind(1, std::string_view(meta_key));
  const std::string note = std::to_string(changed.size()) + " records rewritten at " + now_iso8601();
  mark->bind(2, std::string_view(note));
  if (auto st = mark->step(); !st)
    return st.error();
  if (auto st = tx.commit(); !st)
    return st;
  // The old versions of the pages are in the WAL until a checkpoint; copy the new ones back and
  // empty it.
  return db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

class SqliteJournal final : public Journal {
 public:
  SqliteJournal(SqliteJournalOptions options, std::unique_ptr<FileLock> lock, Database writer,
                Database reader)
      : options_(std::move(options)),
        lock_(std::move(lock)),
        writer_db_(std::move(writer)),
        reader_db_(std::move(reader)) {}

  Status prepare() {
    auto prep = [&](std::optional<Statement>& into, const char* sql) -> Status {
      auto st = writer_db_.prepare(sql);
      if (!st)
        return st.error();
      into.emplace(std::move(*st));
      return ok_status();
    };
    for (auto st : {prep(insert_workflow_,
                         "INSERT INTO workflows(id, definition, version, status, reason, "
                         "created_at, updated_at) VALUES (?1, ?2, ?3, 'running', '', ?4, ?4)"),
                    prep(insert_event_,
                         "INSERT INTO events(rid, type, step, attempt, at, status, data) "
                         "VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8)"),
                    prep(update_status_,
                         "UPDATE workflows SET status = ?2, reason = ?3, updated_at = ?4 "
                         "WHERE wid = ?1"),
                    prep(select_wid_, "SELECT wid FROM workflows WHERE id = ?1")}) {
      if (!st)
        return st;
    }
    writer_ = std::thread([this] { writer_loop(); });
    return ok_status();
  }

  ~SqliteJournal() override {
    {
      std::lock_guard lock(queue_mutex_);
      stop_ = true;
    }
    queue_cv_.notify_all();
    if (writer_.joinable())
      writer_.join();
  }

  void append(RecordBatch records, AppendCallback done) override {
    {
      std::lock_guard lock(queue_mutex_);
      queue_.push_back(Pending{std::move(records), std::move(done)});
    }
    queue_cv_.notify_one();
  }

  Result<std::vector<WorkflowHistory>> load_unfinished() override {
    std::lock_guard lock(read_mutex_);
    auto q = reader_db_.prepare(std::string("SELECT ") + kSummaryColumns +
                                " FROM workflows WHERE status = 'running' ORDER BY wid");
    if (!q)
      return q.error();
    std::vector<std::pair<std::int64_t, WorkflowHistory>> found;
    for (;;) {
      auto row = q->step();
      if (!row)
        return row.error();
      if (!*row)
        break;
      found.emplace_back(q->column_int(0), WorkflowHistory{read_summary(*q), {}});
    }
    std::vector<WorkflowHistory> out;
    out.reserve(found.size());
    for (auto& [wid, h] : found) {
      if (auto st = read_records(wid, h); !st)
        return st.error();
      out.push_back(std::move(h));
    }
    return out;
  }

  /// The row key and summary of `workflow_id`, or nullopt; the caller holds read_mutex_.
  Result<std::optional<std::pair<std::int64_t, WorkflowSummary>>> summary_row(
      const std::string& workflow_id) {
    auto q = reader_db_.prepare(std::string("SELECT ") + kSummaryColumns +
                                " FROM workflows WHERE id = ?1");
    if (!q)
      return q.error();
    q->bind(1, std::string_view(workflow_id));
    auto row = q->step();
    if (!row)
      return row.error();
    if (!*row)
      return std::optional<std::pair<std::int64_t, WorkflowSummary>>{};
    return std::optional<std::pair<std::int64_t, WorkflowSummary>>{
        std::pair<std::int64_t, WorkflowSummary>{q->column_int(0), read_summary(*q)}};
  }

  Result<WorkflowHistory> history(const std::string& workflow_id) override {
    std::lock_guard lock(read_mutex_);
    auto row = summary_row(workflow_id);
    if (!row)
      return row.error();
    if (!*row)
      return Error::of(codes::kNotFound, "no workflow " + workflow_id);
    WorkflowHistory h{std::move((*row)->second), {}};
    if (auto st = read_records((*row)->first, h); !st)
      return st.error();
    return h;
  }

  Result<std::optional<WorkflowSummary>> find(const std::string& workflow_id) override {
    std::lock_guard lock(read_mutex_);
    auto row = summary_row(workflow_id);
    if (!row)
      return row.error();
    if (!*row)
      return std::optional<WorkflowSummary>{};
    return std::optional<WorkflowSummary>{std::move((*row)->second)};
  }

  Result<WorkflowPage> list(const WorkflowQuery& query) override {
    if (query.limit < 1 || query.limit > 1000) {
      return Error::of(codes::kInvalidArgument, "limit must be between 1 and 1000");
    }
    std::optional<std::int64_t> before;
    if (!query.page_token.empty()) {
      try {
        before = std::stoll(query.page_token);
      } catch (const std::exception&) {
        return Error::of(codes::kInvalidArgument, "bad page token");
      }
    }
    std::string sql = std::string("SELECT ") + kSummaryColumns + " FROM workflows WHERE 1 = 1";
    if (query.status)
      sql += " AND status = ?1";
    if (query.definition)
      sql += " AND definition = ?2";
    if (query.created_from)
      sql += " AND created_at >= ?3";
    if (query.created_to)
      sql += " AND created_at < ?4";
    if (before)
      sql += " AND wid < ?5";
    sql += " ORDER BY wid DESC LIMIT ?6";

    std::lock_guard lock(read_mutex_);
    auto q = reader_db_.prepare(sql);
    if (!q)
      return q.error();
    if (query.status)
      q->bind(1, to_string(*query.status));
    if (query.definition)
      q->bind(2, std::string_view(*query.definition));
    if (query.created_from)
      q->bind(3, std::string_view(*query.created_from));
    if (query.created_to)
      q->bind(4, std::string_view(*query.created_to));
    if (before)
      q->bind(5, *before);
    q->bind(6, static_cast<std::int64_t>(query.limit + 1));
    WorkflowPage page;
    std::int64_t last_wid = 0;
    for (;;) {
      auto row = q->step();
      if (!row)
        return row.error();
      if (!*row)
        break;
      if (page.items.size() == query.limit) {
        page.next_page_token = std::to_string(last_wid);
        break;
      }
      last_wid = q->column_int(0);
      page.items.push_back(read_summary(*q));
    }
    return page;
  }

  JournalStats stats() const override {
    return JournalStats{appends_.load(), records_.load(), commits_.load()};
  }

 private:
  struct Pending {
    RecordBatch records;
    AppendCallback done;
  };

  Status read_records(std::int64_t wid, WorkflowHistory& h) {
    auto q = reader_db_.prepare(
        "SELECT rid, type, step, attempt, at, status, data FROM events WHERE rid BETWEEN ?1 AND "
        "?2 ORDER BY rid");
    if (!q)
      return q.error();
    q->bind(1, wid << kSeqBits);
    q->bind(2, (wid << kSeqBits) | kMaxSeq);
    for (;;) {
      auto row = q->step();
      if (!row)
        return row.error();
      if (!*row)
        break;
      JournalRecord r;
      r.workflow_id = h.summary.id;
      r.seq = q->column_int(0) & kMaxSeq;
      r.type = q->column_text(1);
      r.step = q->column_text(2);
      r.attempt = static_cast<int>(q->column_int(3));
      r.at = q->column_text(4);
      if (!q->column_is_null(5))
        r.status = parse_status(q->column_text(5));
      r.data = nlohmann::json::parse(q->column_text(6), nullptr, false);
      if (r.data.is_discarded()) {
        return Error::of(codes::kInternal, "journal record " + h.summary.id + "#" +
                                               std::to_string(r.seq) + " is not valid JSON");
      }
      h.records.push_back(std::move(r));
    }
    return ok_status();
  }

  void writer_loop() {
    std::vector<Pending> group;
    for (;;) {
      {
        std::unique_lock lock(queue_mutex_);
        queue_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty())
          return;  // stopping, and everything was written
        std::size_t records = 0;
        while (!queue_.empty() && (group.empty() || records + queue_.front().records->size() <=
                                                        options_.max_records_per_commit)) {
          records += queue_.front().records->size();
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      Status st = failure_ ? *failure_ : write_group(group);
      if (!st)
        failure_ = st.error();
      // Drop our references first, so that the caller frees its records on its own thread.
      for (Pending& p : group)
        p.records.reset();
      for (Pending& p : group) {
        AppendCallback done = std::move(p.done);
        done(st);
      }
      group.clear();
    }
  }

  Status write_group(const std::vector<Pending>& group) {
    std::size_t records = 0;
    for (const Pending& p : group)
      records += p.records->size();
    if (records > 0) {
      sqlite::Transaction tx(writer_db_);
      if (auto st = tx.begin(); !st)
        return st;
      for (const Pending& p : group) {
        for (const JournalRecord& r : *p.records) {
          if (auto st = write(r); !st) {
            wids_.clear();  // may name rows of the rolled-back transaction
            return st;
          }
        }
      }
      if (auto st = tx.commit(); !st) {
        wids_.clear();
        return st;
      }
      commits_.fetch_add(1, std::memory_order_relaxed);
    }
    records_.fetch_add(records, std::memory_order_relaxed);
    appends_.fetch_add(group.size(), std::memory_order_relaxed);
    return ok_status();
  }

  Status write(const JournalRecord& r) {
    std::int64_t wid = 0;
    if (r.type == events::kStarted) {
      Statement& s = *insert_workflow_;
      s.reset();
      s.bind(1, std::string_view(r.workflow_id));
      s.bind(2, std::string_view(r.data.value("definition", std::string{})));
      s.bind(3, static_cast<std::int64_t>(r.data.value("version", 0)));
      s.bind(4, std::string_view(r.at));
      if (auto st = s.step(); !st)
        return st.error();
      wid = writer_db_.last_insert_rowid();
      wids_[r.workflow_id] = wid;
    } else if (auto it = wids_.find(r.workflow_id); it != wids_.end()) {
      wid = it->second;
    } else {
      Statement& s = *select_wid_;
      s.reset();
      s.bind(1, std::string_view(r.workflow_id));
      auto row = s.step();
      if (!row)
        return row.error();
      if (!*row) {
        return Error::of(codes::kInternal, "journal record for unknown workflow " + r.workflow_id);
      }
      wid = s.column_int(0);
      wids_[r.workflow_id] = wid;
    }
    if (r.seq < 1 || r.seq > kMaxSeq) {
      return Error::of(codes::kInternal, "journal record " + r.workflow_id + " has seq " +
                                             std::to_string(r.seq) + " out of range");
    }
    Statement& e = *insert_event_;
    e.reset();
    const std::string data = to_json_text(r.data);
    e.bind(1, (wid << kSeqBits) | r.seq);
    e.bind_static(3, r.type);
    e.bind_static(4, r.step);
    e.bind(5, static_cast<std::int64_t>(r.attempt));
    e.bind_static(6, r.at);
    if (r.status)
      e.bind_static(7, to_string(*r.status));
    e.bind_static(8, data);
    auto stepped = e.step();
    e.reset();  // before `data` goes
    if (!stepped)
      return stepped.error();
    if (r.status && r.type != events::kStarted) {  // the insert set `running` already
      auto reason = r.data.find("reason");
      Statement& u = *update_status_;
      u.reset();
      u.bind(1, wid);
      u.bind(2, to_string(*r.status));
      u.bind(3, reason != r.data.end() && reason->is_string()
                    ? std::string_view(reason->get_ref<const std::string&>())
                    : std::string_view());
      u.bind(4, std::string_view(r.at));
      if (auto st = u.step(); !st)
        return st.error();
      if (*r.status != WorkflowStatus::kRunning)
        wids_.erase(r.workflow_id);
    }
    return ok_status();
  }

  SqliteJournalOptions options_;
  std::unique_ptr<FileLock> lock_;

  // Writer thread only.
  Database writer_db_;
  std::optional<Statement> insert_workflow_;
  std::optional<Statement> insert_event_;
  std::optional<Statement> update_status_;
  std::optional<Statement> select_wid_;
  std::unordered_map<std::string, std::int64_t> wids_;  ///< Running workflows' row ids.
  std::optional<Error> failure_;                        ///< Sticky: refuse all after an error.

  std::mutex read_mutex_;
  Database reader_db_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stop_ = false;

  std::atomic<std::uint64_t> appends_{0};
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> commits_{0};
  std::thread writer_;
};

}  // namespace

Result<std::unique_ptr<Journal>> open_sqlite_journal(const SqliteJournalOptions& options) {
  if (options.path.empty())
    return Error::of(codes::kInvalidArgument, "journal path is empty");
  if (options.max_records_per_commit < 1) {
    return Error::of(codes::kInvalidArgument, "max_records_per_commit must be >= 1");
  }
  const std::string path = options.path.string();
  if (auto parent = options.path.parent_path(); !parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
      return Error::of(codes::kUnavailable,
                       "journal: cannot create " + parent.string() + ": " + ec.message());
  }
  auto lock = FileLock::acquire(path + ".lock");
  if (!lock)
    return lock.error();
  auto writer = Database::open(path, true);
  if (!writer)
    return writer.error();
  if (auto st = writer->exec("PRAGMA journal_mode=WAL"); !st)
    return st.error();
  if (auto st =
          writer->exec(options.full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      !st) {
    return st.error();
  }
  // A 16 MiB page cache holds the hot end of the tables during a large group commit; the
  // checkpoint interval lets pages rewritten by consecutive commits be copied back once.
  if (auto st = writer->exec("PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=4000"); !st) {
    return st.error();
  }
  if (auto st = writer->exec("PRAGMA secure_delete=ON"); !st)
    return st.error();
  if (auto st = writer->exec(kSchema); !st)
    return st.error();
  if (options.rewrite && !options.rewrite_name.empty()) {
    if (auto st = rewrite_records(*writer, options); !st)
      return Error::of(st.error().code,
                       "journal rewrite '" + options.rewrite_name + "': " + st.error().message);
  }
  auto reader = Database::open(path, false);
  if (!reader)
    return reader.error();
  auto journal = std::make_unique<SqliteJournal>(options, std::move(*lock), std::move(*writer),
                                                 std::move(*reader));
  if (auto st = journal->prepare(); !st)
    return st.error();
  return std::unique_ptr<Journal>(std::move(journal));
}

}  // namespace wonderland::workflow
