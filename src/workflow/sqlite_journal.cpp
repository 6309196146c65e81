// The SQLite journal's write side: the writer thread and its group commit. Opening, the schema
// and the rewrite are in sqlite_journal_schema.cpp; the queries in sqlite_journal_queries.cpp.
#include "wonderland/workflow/sqlite_journal.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "sqlite_errors.hpp"
#include "sqlite_journal_archive.hpp"
#include "sqlite_journal_queries.hpp"
#include "sqlite_journal_schema.hpp"
#include "wonderland/common/json_text.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::workflow {
namespace {

using detail::kMaxSeq;

constexpr const char* kInsertWorkflow =
    "INSERT INTO workflows(id, definition, version, status, reason, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, 'running', '', ?4, ?4)";
constexpr const char* kUpdateStatus =
    "UPDATE workflows SET status = ?2, reason = ?3, updated_at = ?4 WHERE wid = ?1";
constexpr const char* kSelectWid = "SELECT wid, status FROM workflows WHERE id = ?1";

/// The `reason` a status-changing record gives, or empty.
std::string_view reason_of(const JournalRecord& r) {
  auto reason = r.data.find("reason");
  return reason != r.data.end() && reason->is_string()
             ? std::string_view(reason->get_ref<const std::string&>())
             : std::string_view();
}

class SqliteJournal final : public Journal {
 public:
  SqliteJournal(SqliteJournalOptions options, std::unique_ptr<detail::FileLock> lock,
                std::unique_ptr<sqlite::Db> writer, std::unique_ptr<sqlite::Db> reader)
      : options_(std::move(options)),
        lock_(std::move(lock)),
        writer_db_(std::move(writer)),
        queries_(std::move(reader)) {
    writer_ = std::thread([this] { writer_loop(); });
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
    enqueue(Pending{std::move(records), std::move(done), {}});
  }

  std::optional<Status> write_now(const RecordBatch& records) override {
    {
      std::lock_guard lock(queue_mutex_);
      if (stop_ || writing_ || !queue_.empty())
        return std::nullopt;
      writing_ = true;  // the writer thread waits until we are done
    }
    Status st = commit_group({Pending{records, nullptr, {}}});
    if (st && !records->empty())
      written_now_.fetch_add(1, std::memory_order_relaxed);
    bool waiting_work = false;
    {
      std::lock_guard lock(queue_mutex_);
      writing_ = false;
      waiting_work = stop_ || !queue_.empty();
    }
    // The writer thread waits for work, not for us: waking it for nothing cost a futex call
    // here and a context switch there on every commit written on the caller's thread.
    if (waiting_work)
      queue_cv_.notify_all();
    return st;
  }

  /// Queued on the writer thread between two group commits, as one transaction of its own.
  Result<std::size_t> archive_finished(std::chrono::milliseconds age, std::size_t limit) override {
    if (limit < 1)
      return Error::of(codes::kInvalidArgument, "archive limit must be >= 1");
    const auto now = std::chrono::system_clock::now();
    const std::string cutoff = format_iso8601(now - age);
    const std::string archived_at = format_iso8601(now);
    std::promise<Result<std::size_t>> moved;
    auto result = moved.get_future();
    enqueue(Pending{nullptr, nullptr, [&] {
                      if (failure_)
                        return moved.set_value(*failure_);
                      moved.set_value(detail::guard_sqlite("archive", [&]() -> Result<std::size_t> {
                        return detail::archive_finished(*writer_db_, cutoff, limit, archived_at);
                      }));
                    }});
    return result.get();
  }
  Result<WorkflowPage> list_archived(const WorkflowQuery& query) override {
    return queries_.list_archived(query);
  }

  Result<std::vector<WorkflowHistory>> load_unfinished() override {
    return queries_.load_unfinished();
  }
  Result<WorkflowHistory> history(const std::string& workflow_id) override {
    return queries_.history(workflow_id);
  }
  Result<std::optional<WorkflowSummary>> find(const std::string& workflow_id) override {
    return queries_.find(workflow_id);
  }
  Result<WorkflowPage> list(const WorkflowQuery& query) override { return queries_.list(query); }
  Result<std::vector<VersionCount>> running_by_version() override {
    return queries_.running_by_version();
  }

  JournalStats stats() const override {
    return JournalStats{appends_.load(), records_.load(), commits_.load(), written_now_.load(),
                        commit_latency_.snapshot()};
  }

 private:
  /// A batch of records, or (records null) a task run alone on the writer thread.
  struct Pending {
    RecordBatch records;
    AppendCallback done;
    std::function<void()> task;
  };

  void enqueue(Pending pending) {
    {
      std::lock_guard lock(queue_mutex_);
      queue_.push_back(std::move(pending));
    }
    queue_cv_.notify_one();
  }

  /// Takes the batches queued so far, up to max_records_per_commit records (at least one
  /// batch), or one task, once no write_now() is writing. Empty when stopping with nothing left
  /// to write.
  std::vector<Pending> next_group() {
    std::vector<Pending> group;
    std::unique_lock lock(queue_mutex_);
    queue_cv_.wait(lock, [&] { return !writing_ && (stop_ || !queue_.empty()); });
    std::size_t records = 0;
    while (!queue_.empty()) {
      const Pending& next = queue_.front();
      if (!group.empty() && (next.task || group.front().task ||
                             records + next.records->size() > options_.max_records_per_commit))
        break;
      records += next.task ? 0 : next.records->size();
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    writing_ = !group.empty();
    return group;
  }

  /// The group is written and its callbacks ran: write_now() may write again.
  void group_done() {
    std::lock_guard lock(queue_mutex_);
    writing_ = false;
  }

  void writer_loop() {
    for (;;) {
      std::vector<Pending> group = next_group();
      if (group.empty())
        return;  // stopping, and everything was written
      if (group.front().task) {
        group.front().task();
        group_done();
        continue;
      }
      Status st = commit_group(group);
      // Drop our references first, so that the caller frees its records on its own thread.
      for (Pending& p : group)
        p.records.reset();
      for (Pending& p : group) {
        AppendCallback done = std::move(p.done);
        done(st);
      }
      group_done();
    }
  }

  /// Writes the group unless an earlier write failed; a failure is sticky (`failure_`).
  Status commit_group(const std::vector<Pending>& group) {
    if (failure_)
      return *failure_;
    Status st = write_group(group);
    if (!st)
      failure_ = st.error();
    return st;
  }

  Status write_group(const std::vector<Pending>& group) {
    std::size_t records = 0;
    for (const Pending& p : group)
      records += p.records->size();
    if (records > 0) {
      const auto began = std::chrono::steady_clock::now();
      auto written = detail::guard_sqlite("append", [&]() -> Status {
        sqlite::Transaction tx(*writer_db_);
        for (const Pending& p : group) {
          for (const JournalRecord& r : *p.records) {
            if (auto st = write(r); !st)
              return st;
          }
        }
        tx.commit();
        return ok_status();
      });
      if (!written) {
        wids_.clear();  // may name rows of the rolled-back transaction
        return written;
      }
      commit_latency_.record(std::chrono::steady_clock::now() - began);
      commits_.fetch_add(1, std::memory_order_relaxed);
    }
    records_.fetch_add(records, std::memory_order_relaxed);
    appends_.fetch_add(group.size(), std::memory_order_relaxed);
    return ok_status();
  }

  /// The row id of the record's workflow: inserted by its `started` record, else looked up, else
  /// restored from the archive (the sweep moved it after the engine decided to write it: an
  /// operator's retry, a late signal). A workflow in neither place is an error.
  Result<std::int64_t> workflow_row(const JournalRecord& r) {
    if (r.type == events::kStarted) {
      writer_db_->prepare(kInsertWorkflow)
          .bind(1, r.workflow_id)
          .bind(2, r.data.value("definition", std::string{}))
          .bind(3, static_cast<std::int64_t>(r.data.value("version", 0)))
          .bind(4, r.at)
          .step();
      return wids_[r.workflow_id] = writer_db_->last_insert_rowid();
    }
    if (auto it = wids_.find(r.workflow_id); it != wids_.end())
      return it->second;
    if (auto s = writer_db_->prepare(kSelectWid); s.bind(1, r.workflow_id).step()) {
      // Only running workflows' rows are cached: a settled one (a late signal) may leave for the
      // archive at the next sweep.
      if (s.text(1) == to_string(WorkflowStatus::kRunning))
        wids_[r.workflow_id] = s.int64(0);
      return s.int64(0);
    }
    auto restored = detail::restore_archived(*writer_db_, r.workflow_id);
    if (!restored)
      return restored.error();
    if (!*restored)
      return Error::of(codes::kInternal, "journal record for unknown workflow " + r.workflow_id);
    return **restored;  // settled: not cached (see above)
  }

  Status write(const JournalRecord& r) {
    auto wid = workflow_row(r);
    if (!wid)
      return wid.error();
    if (r.seq < 1 || r.seq > kMaxSeq) {
      return Error::of(codes::kInternal, "journal record " + r.workflow_id + " has seq " +
                                             std::to_string(r.seq) + " out of range");
    }
    detail::insert_record(*writer_db_, *wid, r, to_json_text(r.data));
    if (r.status && r.type != events::kStarted) {  // the insert set `running` already
      writer_db_->prepare(kUpdateStatus)
          .bind(1, *wid)
          .bind(2, to_string(*r.status))
          .bind(3, reason_of(r))
          .bind(4, r.at)
          .step();
      if (*r.status != WorkflowStatus::kRunning)
        wids_.erase(r.workflow_id);
    }
    return ok_status();
  }

  SqliteJournalOptions options_;
  std::unique_ptr<detail::FileLock> lock_;

  // The writer thread's, or write_now()'s while it holds `writing_`.
  std::unique_ptr<sqlite::Db> writer_db_;
  std::unordered_map<std::string, std::int64_t> wids_;  ///< Running workflows' row ids.
  std::optional<Error> failure_;                        ///< Sticky: refuse all after an error.

  detail::JournalQueries queries_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stop_ = false;
  bool writing_ = false;  ///< A group or a write_now() is using the writer's connection.

  std::atomic<std::uint64_t> appends_{0};
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> written_now_{0};
  CommitLatencyRecorder commit_latency_;
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
  auto lock = detail::FileLock::acquire(path + ".lock");
  if (!lock)
    return lock.error();
  auto writer = detail::open_journal_writer(options);
  if (!writer)
    return writer.error();
  auto reader = detail::open_journal_reader(path);
  if (!reader)
    return reader.error();
  return std::unique_ptr<Journal>(std::make_unique<SqliteJournal>(
      options, std::move(*lock), std::move(*writer), std::move(*reader)));
}

}  // namespace wonderland::workflow
