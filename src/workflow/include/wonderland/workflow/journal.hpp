// The durable journal: every state change of every workflow, appended before its effects.
//
// A workflow's state is a fold over its records (event sourcing): the engine rebuilds
// unfinished workflows from them after a restart, and the same records are the monitoring
// timeline. Implementations: SQLite (sqlite_journal.hpp), in memory (below), and PostgreSQL,
// shared by several mediators (wonderland/workflow_pg/pg_journal.hpp, docs/workflows.md).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"

namespace wonderland::workflow {

enum class WorkflowStatus { kRunning, kCompleted, kFailed, kCancelled, kNeedsAttention };

/// `running`, `completed`, `failed`, `cancelled`, `needs_attention`.
std::string_view to_string(WorkflowStatus status);
std::optional<WorkflowStatus> parse_status(std::string_view text);
/// Whether nothing more happens to a workflow in this status without an operator's request.
inline bool is_settled(WorkflowStatus s) {
  return s != WorkflowStatus::kRunning;
}
/// Whether a workflow in this status ended for good (completed, failed, cancelled), so that
/// retention may move it to the archive. `needs_attention` waits for an operator and stays.
inline bool is_finished(WorkflowStatus s) {
  return s == WorkflowStatus::kCompleted || s == WorkflowStatus::kFailed ||
         s == WorkflowStatus::kCancelled;
}

/// Record types. Each one's `data` is described in docs/workflows.md.
namespace events {
inline constexpr const char* kStarted = "started";
inline constexpr const char* kStepStarted = "step_started";
inline constexpr const char* kStepAttempt = "step_attempt";
inline constexpr const char* kStepAttemptFailed = "step_attempt_failed";
inline constexpr const char* kStepSucceeded = "step_succeeded";
inline constexpr const char* kStepFailed = "step_failed";
inline constexpr const char* kCancelRequested = "cancel_requested";
inline constexpr const char* kCompensating = "compensating";
inline constexpr const char* kCompensationStarted = "compensation_started";
inline constexpr const char* kCompensationAttempt = "compensation_attempt";
inline constexpr const char* kCompensationAttemptFailed = "compensation_attempt_failed";
inline constexpr const char* kCompensationSucceeded = "compensation_succeeded";
inline constexpr const char* kCompensationFailed = "compensation_failed";
inline constexpr const char* kCompleted = "completed";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kCancelled = "cancelled";
inline constexpr const char* kNeedsAttention = "needs_attention";
inline constexpr const char* kRetryRequested = "retry_requested";
inline constexpr const char* kRerunRequested = "rerun_requested";
inline constexpr const char* kResumed = "resumed";
inline constexpr const char* kSignalReceived = "signal_received";
inline constexpr const char* kPauseRequested = "pause_requested";
inline constexpr const char* kResumeRequested = "resume_requested";
inline constexpr const char* kIterationStarted = "iteration_started";
inline constexpr const char* kIterationSucceeded = "iteration_succeeded";
inline constexpr const char* kIterationFailed = "iteration_failed";
inline constexpr const char* kIterationUndone = "iteration_undone";
inline constexpr const char* kUndoRequested = "undo_requested";
}  // namespace events

/// One journal record.
struct JournalRecord {
  std::string workflow_id;
  std::int64_t seq = 0;  ///< 1, 2, 3... within the workflow, without gaps.
  std::string type;      ///< One of `events::`.
  std::string step;      ///< The step's path; empty for workflow-level records.
  int attempt = 0;       ///< The attempt the record is about; 0 when none.
  std::string at;        ///< UTC ISO-8601 time.
  nlohmann::json data;   ///< Type-specific payload.
  /// Set when the record changes the workflow's status; then `data.reason` (if a string) is the
  /// new reason. A `started` record creates the workflow from `data.definition`/`data.version`.
  std::optional<WorkflowStatus> status;
};

struct WorkflowSummary {
  std::string id;
  std::string definition;
  int version = 0;
  WorkflowStatus status = WorkflowStatus::kRunning;
  std::string reason;      ///< Why it failed, was cancelled or needs attention.
  std::string created_at;  ///< Time of the `started` record.
  std::string updated_at;  ///< Time of the last status change.
  /// Moved from the hot tables to the archive by retention: read-only from then on.
  bool archived = false;
};

/// Filters for listing workflows; every set field must match. Newest first.
struct WorkflowQuery {
  std::optional<WorkflowStatus> status;
  std::optional<std::string> definition;
  std::optional<int> version;               ///< The definition's version.
  std::optional<std::string> created_from;  ///< Inclusive ISO-8601 bound.
  std::optional<std::string> created_to;    ///< Exclusive ISO-8601 bound.
  /// Only `failed` and `needs_attention` workflows whose failing_step() is this step.
  std::optional<std::string> failing_step;
  std::size_t limit = 50;  ///< 1..1000.
  std::string page_token;  ///< From the previous page's next_page_token; empty for the first.
};

struct WorkflowPage {
  std::vector<WorkflowSummary> items;
  std::string next_page_token;  ///< Empty on the last page.
};

/// What a journal's list() checks first: `limit` is 1..1000 and `page_token` empty (0: the
/// first page) or a positive row id, which is returned; `invalid_argument` otherwise.
Result<std::int64_t> page_position(const WorkflowQuery& query);

struct WorkflowHistory {
  WorkflowSummary summary;
  std::vector<JournalRecord> records;  ///< In seq order.
};

/// How many workflows of one definition version are running (have not ended).
struct VersionCount {
  std::string definition;
  int version = 0;
  std::int64_t running = 0;
};

/// The step a settled workflow failed at: for a `failed` workflow the `step` of its last `failed`
/// record (the step that failed for good), for a `needs_attention` one the step of its last
/// `compensation_failed` record (the step whose undoing is stuck); empty otherwise.
std::string failing_step(const WorkflowHistory& workflow);

/// How long the journal's transactions took, each from its start until it was durable (SQLite's
/// `fdatasync` of the log, PostgreSQL's commit): a cumulative histogram, as Prometheus keeps one.
/// At low load every step of a workflow waits for one commit, so this is the first figure to
/// read when workflows slow down.
struct CommitLatency {
  /// Upper bounds of the buckets, in seconds: fine below a millisecond, where a local disk's
  /// commits are.
  static constexpr std::array<double, 16> kBuckets{0.00005, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005,
                                                   0.00075, 0.001,  0.0025,  0.005,  0.01,   0.025,
                                                   0.05,    0.1,    0.25,    1};
  std::array<std::uint64_t, kBuckets.size()> at_most{};  ///< Commits that took <= kBuckets[i].
  std::uint64_t count = 0;
  double sum_seconds = 0;

  /// The q-quantile (0 < q < 1) in seconds, interpolated linearly inside its bucket (as
  /// Prometheus's histogram_quantile does); the last bound when it lies beyond it; 0 without
  /// commits.
  double quantile(double q) const;
  /// The commits since `earlier`, a snapshot of the same journal taken before this one.
  CommitLatency since(const CommitLatency& earlier) const;
};

/// Records commit durations for a journal's stats(); any thread.
class CommitLatencyRecorder {
 public:
  void record(std::chrono::steady_clock::duration took);
  CommitLatency snapshot() const;

 private:
  /// Commits per bucket (not cumulative: one increment per commit), the last past every bound.
  std::array<std::atomic<std::uint64_t>, CommitLatency::kBuckets.size() + 1> in_bucket_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

struct JournalStats {
  std::uint64_t appends = 0;      ///< append() calls completed.
  std::uint64_t records = 0;      ///< Records written.
  std::uint64_t commits = 0;      ///< Transactions (group commits).
  std::uint64_t written_now = 0;  ///< Of those, written by write_now() on the caller's thread.
  /// Of every transaction that wrote records and saw its commit return (a PostgreSQL commit
  /// whose outcome was lost with the connection, and found committed later, is counted in
  /// `commits` only).
  CommitLatency commit_latency;
};

using RecordBatch = std::shared_ptr<const std::vector<JournalRecord>>;
using AppendCallback = std::function<void(Status)>;

/// Contract:
///  - append() is asynchronous and never blocks on I/O. Batches are written in call order, each
///    atomically; `done` runs exactly once, on a thread of the journal's choosing (possibly
///    inside append()), after the batch is durable (ok) or could not be (error). After an error the
///    journal may refuse everything that follows: the engine then stops, and a restart recovers
///    from what was durable.
///  - Batches may be grouped into one transaction (group commit); an empty batch is allowed
///    and completes in order with the others.
///  - The query functions are thread-safe and see only durable records.
///  - Ownership: a journal shared by several engines (pg_journal.hpp) gives each workflow to one
///    engine at a time. After a batch's `done` and before issuing a workflow's effects (commands,
///    publications, timers) the engine asks owns(): false means another engine took the
///    workflow over (its records of that batch were not written) and this engine must drop the
///    workflow without issuing anything. A journal used by one engine always owns everything.
class Journal {
 public:
  virtual ~Journal() = default;

  virtual void append(RecordBatch records, AppendCallback done) = 0;
  /// The idle fast path: when nothing is queued or being written, writes `records` on the
  /// calling thread, now, as one transaction, and returns its status (as append()'s `done` would
  /// get it). Busy, or not offered by this journal: nullopt, nothing written, and the caller
  /// appends instead. A caller that has batches of its own still unacknowledged must not call it
  /// (they would be overtaken). Saves the two thread hand-offs of append() when there is nothing
  /// to group the batch with; the engine calls it only when its own queue is empty.
  virtual std::optional<Status> write_now(const RecordBatch& /*records*/) { return std::nullopt; }
  /// Every workflow whose status is `running`, with its records. A journal shared by several
  /// engines returns (and claims) only the workflows this engine owns.
  virtual Result<std::vector<WorkflowHistory>> load_unfinished() = 0;
  /// One workflow's records, or `not_found`.
  virtual Result<WorkflowHistory> history(const std::string& workflow_id) = 0;
  /// One workflow's summary, or nullopt.
  virtual Result<std::optional<WorkflowSummary>> find(const std::string& workflow_id) = 0;
  virtual Result<WorkflowPage> list(const WorkflowQuery& query) = 0;
  virtual JournalStats stats() const = 0;
  /// The running workflows counted by definition and version, ordered by both; versions with
  /// none are left out. One count over the journal's index of statuses. Thread-safe.
  virtual Result<std::vector<VersionCount>> running_by_version() = 0;
  /// Whether this engine still owns the workflow (see the contract above). Thread-safe.
  virtual bool owns(const std::string& /*workflow_id*/) const { return true; }

  // Ownership upkeep of a shared journal, called by Engine::maintain_ownership() every lease/3
  // from a thread of the caller's. A journal of one engine keeps these defaults.

  /// Extends this engine's leases; an error when the journal cannot be reached (owns() turns
  /// false for everything once that lasted too long).
  virtual Status renew() { return ok_status(); }
  /// Claims the running workflows whose leases expired (their engine died, paused or dropped
  /// them) and returns them with their records, to be resumed as after a restart.
  virtual Result<std::vector<WorkflowHistory>> claim_expired() {
    return std::vector<WorkflowHistory>{};
  }
  /// The workflows this engine lost since the previous call; each is returned once.
  virtual std::vector<std::string> take_lost() { return {}; }
  /// Clean shutdown: gives up this engine's workflows so that others may claim them at once.
  virtual Status release() { return ok_status(); }

  // Retention. Finished workflows (is_finished()) leave the hot tables for the archive, one row
  // each with its whole history; history() and find() read them there when they are not hot
  // (summary.archived set), list() never does. A journal without an archive keeps the defaults.

  /// Moves at most `limit` finished workflows whose last status change is older than `age`
  /// to the archive in one transaction (the status is checked inside it) and returns how many
  /// moved. Thread-safe; appends go on meanwhile. Call it again while it returns `limit`.
  virtual Result<std::size_t> archive_finished(std::chrono::milliseconds /*age*/,
                                               std::size_t /*limit*/) {
    return std::size_t{0};
  }
  /// The archived workflows, last archived first; `status`, `definition`, `limit` and
  /// `page_token` of the query apply. Thread-safe.
  virtual Result<WorkflowPage> list_archived(const WorkflowQuery& /*query*/) {
    return WorkflowPage{};
  }

  /// append() and wait for `done`. Never call it from inside a `done` callback.
  Status append_and_wait(RecordBatch records);
};

/// The archive's `history` document: the records as one compact JSON array of objects
/// (`seq`, `type`, `at`, `data`, and `step`, `attempt`, `status` when set).
std::string archived_history_json(const std::vector<JournalRecord>& records);
/// Appends record `r` with `data_json` (compact JSON text) as its data to a history document
/// being built: `out` starts as "[" and gets its "]" once every record is in.
void append_archived_record(std::string& out, const JournalRecord& r, std::string_view data_json);
/// The records of workflow `workflow_id` from its archived `history` document; `internal` when
/// the document is not one.
Result<std::vector<JournalRecord>> parse_archived_history(const std::string& workflow_id,
                                                          std::string_view document);

/// A journal in memory (nothing survives the process): for tests and tools. append() completes
/// inline, on the caller's thread.
class MemoryJournal final : public Journal {
 public:
  void append(RecordBatch records, AppendCallback done) override;
  Result<std::vector<WorkflowHistory>> load_unfinished() override;
  Result<WorkflowHistory> history(const std::string& workflow_id) override;
  Result<std::optional<WorkflowSummary>> find(const std::string& workflow_id) override;
  Result<WorkflowPage> list(const WorkflowQuery& query) override;
  Result<std::vector<VersionCount>> running_by_version() override;
  JournalStats stats() const override;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, WorkflowHistory, std::less<>> workflows_;
  std::vector<std::string> order_;  ///< Ids in creation order.
  JournalStats stats_;
  CommitLatencyRecorder commit_latency_;
};

}  // namespace wonderland::workflow
