// The PostgreSQL journal: one database shared by several mediators, each workflow owned by one
// of them at a time through a lease, and every write fenced so that a mediator that lost a
// workflow cannot write to it any more.
//
//   auto journal = open_pg_journal({.url = url, .instance_id = my_uuid}).value();
//   auto mine = journal->load_unfinished();     // claims my own and expired workflows
//   every lease / 3:  journal->renew();          // extends my leases, records my heartbeat
//                     journal->claim_expired();  // takes over workflows of dead mediators
//                     for (auto& id : journal->take_lost()) { /* drop it, issue nothing */ }
//   on shutdown:      journal->release();        // others may take my workflows at once
//
// Writes behave as in the SQLite journal (sqlite_journal.hpp): one writer thread, one
// transaction per group of queued batches (`synchronous_commit = on`), queries on a second
// connection. On top of that:
//  - A `started` record makes this mediator the owner, with fence 1 and a lease of `lease`.
//  - append() locks the workflows a group touches and writes only the records of workflows this
//    mediator still owns with the fence it remembers. The records of a workflow taken over by
//    another mediator are dropped, the workflow is marked lost (owns() false, take_lost()) before
//    `done` runs, and `done` still gets ok: a lost workflow is not a journal failure.
//  - A lost connection (or any other failure) on the writer fails the group with `unavailable`
//    (or `internal`) and every batch after it: the engine stops and a restart recovers.
//  - Queries reopen a lost connection on their next call. In pg_stat_activity the connections
//    are `wl-journal-writer <instance id>` and `wl-journal-queries <instance id>`.
//  - owns() is false for everything once renew() has not succeeded for lease - lease/3, so that
//    the mediator stops before its leases run out; it is true again after a successful renew()
//    for the workflows that were not lost.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::workflow {

struct PgJournalOptions {
  std::string url;          ///< libpq URL, e.g. postgresql://user@host:5432/db
  std::string schema;       ///< Schema of the tables (created when missing); empty: search_path.
  std::string instance_id;  ///< This mediator's id (a UUID); required.
  std::chrono::milliseconds lease{10000};  ///< How long a claim lasts without renewal.
  std::size_t max_records_per_commit = 20000;
  std::size_t claim_limit = 1000;  ///< Workflows claimed per claim call.
};

/// One mediator registered in the journal.
struct MediatorInfo {
  std::string instance_id;
  std::string started_at;    ///< UTC ISO-8601.
  std::string heartbeat_at;  ///< UTC ISO-8601; the last successful renew() (or the start).
  std::int64_t running = 0;  ///< Running workflows it owns.
  bool alive = false;        ///< Its heartbeat is younger than this mediator's lease.
};

/// Who holds a workflow, for requests (cancel, retry) that only its owner may carry out.
struct WorkflowOwner {
  std::string owner;           ///< The instance id named owner (the last one, when settled).
  bool running = false;        ///< status = 'running'
  bool lease_expired = false;  ///< lease_until has passed (a running workflow may be claimed)
  bool owner_alive = false;    ///< the owner is registered with a heartbeat younger than a lease
};

class PgJournal final : public Journal {
 public:
  struct Impl;
  explicit PgJournal(std::unique_ptr<Impl> impl);
  ~PgJournal() override;
  PgJournal(const PgJournal&) = delete;
  PgJournal& operator=(const PgJournal&) = delete;

  void append(RecordBatch records, AppendCallback done) override;
  /// Claims (up to claim_limit) the running workflows that are this mediator's or whose lease
  /// expired, bumping their fence, and returns them with their records. Workflows locked by a
  /// concurrent transaction are skipped (they come with a later claim).
  Result<std::vector<WorkflowHistory>> load_unfinished() override;
  Result<WorkflowHistory> history(const std::string& workflow_id) override;
  Result<std::optional<WorkflowSummary>> find(const std::string& workflow_id) override;
  Result<WorkflowPage> list(const WorkflowQuery& query) override;
  /// One statement per call on a connection of its own; concurrent calls (from this or other
  /// mediators) move disjoint workflows. `age` is measured with the database's clock.
  Result<std::size_t> archive_finished(std::chrono::milliseconds age, std::size_t limit) override;
  Result<WorkflowPage> list_archived(const WorkflowQuery& query) override;
  Result<std::vector<VersionCount>> running_by_version() override;
  JournalStats stats() const override;
  bool owns(const std::string& workflow_id) const override;

  /// Like load_unfinished(), but only running workflows whose lease expired (periodic
  /// takeover; this mediator's own count when it dropped them after its leases lapsed). The engine
  /// resumes them as after a restart.
  Result<std::vector<WorkflowHistory>> claim_expired() override;
  /// Extends the lease of every running workflow this mediator owns and records its heartbeat.
  /// Workflows whose owner or fence changed meanwhile become lost. Call it every lease / 3.
  Status renew() override;
  /// The workflows marked lost since the previous call (the engine drops them); once the leases
  /// lapsed, every workflow still owned.
  std::vector<std::string> take_lost() override;
  /// Clean shutdown: ends the leases of this mediator's workflows now (another mediator may
  /// claim them at once) and removes its registration; owns() is false afterwards.
  Status release() override;
  /// The owner of a workflow as the table says now; nullopt when there is no such workflow.
  Result<std::optional<WorkflowOwner>> owner_of(const std::string& workflow_id);
  /// Makes this mediator the owner of a settled workflow whose owner is gone (not registered,
  /// or no heartbeat for a lease), so that an operator's retry of it may be written here.
  /// False when the workflow is running, unknown, already this mediator's or its owner is alive.
  Result<bool> claim_settled(const std::string& workflow_id);
  /// The registered mediators with their number of running workflows, by instance id.
  Result<std::vector<MediatorInfo>> mediators();
  const std::string& instance_id() const;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Connects, migrates the schema and registers `instance_id`. Refuses with `invalid_argument`
/// (bad options), `unavailable` (the database cannot be reached), `failed_precondition` (the
/// schema is newer than this code, or `instance_id` is in use by a live mediator: one whose
/// heartbeat is younger than the lease). A mediator that crashed can reuse its id once its
/// heartbeat is older than the lease; release() frees the id at once.
Result<std::unique_ptr<PgJournal>> open_pg_journal(const PgJournalOptions& options);

}  // namespace wonderland::workflow
