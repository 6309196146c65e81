// The PostgreSQL journal: opening, and the public class over its parts (pg_writer.cpp writes,
// pg_queries.cpp and pg_leases.cpp read and hold leases, pg_ownership.cpp remembers fences,
// pg_archive.cpp moves finished workflows to the archive).
#include "wonderland/workflow_pg/pg_journal.hpp"

#include "pg_archive.hpp"
#include "pg_connection.hpp"
#include "pg_ownership.hpp"
#include "pg_queries.hpp"
#include "pg_schema.hpp"
#include "pg_writer.hpp"
#include "wonderland/common/ids.hpp"

namespace wonderland::workflow {

struct PgJournal::Impl {
  Impl(const PgJournalOptions& options, const std::string& token)
      : instance_id(options.instance_id),
        ownership(options.lease),
        queries({options.instance_id, token, options.lease, options.claim_limit},
                pg::Connection(options.url, options.schema,
                               "wl-journal-queries " + options.instance_id),
                ownership),
        archiver(pg::Connection(options.url, options.schema,
                                "wl-journal-retention " + options.instance_id)),
        writer(
            {options.instance_id, options.lease, options.max_records_per_commit},
            pg::Connection(options.url, options.schema, "wl-journal-writer " + options.instance_id),
            ownership) {}

  std::string instance_id;
  pg::Ownership ownership;
  pg::Queries queries;
  pg::Archiver archiver;
  pg::Writer writer;  ///< Last: its thread stops first.
};

PgJournal::PgJournal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgJournal::~PgJournal() = default;

void PgJournal::append(RecordBatch records, AppendCallback done) {
  impl_->writer.append(std::move(records), std::move(done));
}
Result<std::vector<WorkflowHistory>> PgJournal::load_unfinished() {
  return impl_->queries.claim(true);
}
Result<WorkflowHistory> PgJournal::history(const std::string& workflow_id) {
  return impl_->queries.history(workflow_id);
}
Result<std::optional<WorkflowSummary>> PgJournal::find(const std::string& workflow_id) {
  return impl_->queries.find(workflow_id);
}
Result<WorkflowPage> PgJournal::list(const WorkflowQuery& query) {
  return impl_->queries.list(query);
}
Result<std::size_t> PgJournal::archive_finished(std::chrono::milliseconds age, std::size_t limit) {
  return impl_->archiver.archive_finished(age, limit);
}
Result<WorkflowPage> PgJournal::list_archived(const WorkflowQuery& query) {
  return impl_->queries.list_archived(query);
}

Result<std::vector<VersionCount>> PgJournal::running_by_version() {
  return impl_->queries.running_by_version();
}
JournalStats PgJournal::stats() const {
  return impl_->writer.stats();
}
bool PgJournal::owns(const std::string& workflow_id) const {
  return impl_->ownership.owns(workflow_id);
}
Result<std::vector<WorkflowHistory>> PgJournal::claim_expired() {
  return impl_->queries.claim(false);
}
Status PgJournal::renew() {
  return impl_->queries.renew();
}
std::vector<std::string> PgJournal::take_lost() {
  return impl_->ownership.take_lost();
}
Status PgJournal::release() {
  return impl_->queries.release();
}
Result<std::optional<WorkflowOwner>> PgJournal::owner_of(const std::string& workflow_id) {
  return impl_->queries.owner_of(workflow_id);
}
Result<bool> PgJournal::claim_settled(const std::string& workflow_id) {
  return impl_->queries.claim_settled(workflow_id);
}
Result<std::vector<MediatorInfo>> PgJournal::mediators() {
  return impl_->queries.mediators();
}
const std::string& PgJournal::instance_id() const {
  return impl_->instance_id;
}

namespace {

Status check_options(const PgJournalOptions& options) {
  if (options.url.empty())
    return Error::of(codes::kInvalidArgument, "journal: the PostgreSQL url is empty");
  if (options.instance_id.empty())
    return Error::of(codes::kInvalidArgument, "journal: instance_id is required");
  if (!options.schema.empty() && !pg::valid_schema_name(options.schema)) {
    return Error::of(codes::kInvalidArgument,
                     "journal: '" + options.schema + "' is not an acceptable schema name");
  }
  if (options.lease < std::chrono::milliseconds(3))
    return Error::of(codes::kInvalidArgument, "journal: the lease is too short");
  if (options.max_records_per_commit < 1 || options.claim_limit < 1) {
    return Error::of(codes::kInvalidArgument,
                     "journal: max_records_per_commit and claim_limit must be >= 1");
  }
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<PgJournal>> open_pg_journal(const PgJournalOptions& options) {
  if (auto st = check_options(options); !st)
    return st.error();
  const std::string token = new_uuid();  // tells this journal from another with the same id
  pg::Connection setup(options.url, options.schema, "wl-journal-open " + options.instance_id);
  auto opened = pg::guarded(setup, "open", [&]() -> Status {
    pg::migrate(setup.get(), options.schema);
    pg::register_mediator(setup.get(), options.instance_id, token, options.lease);
    return ok_status();
  });
  if (!opened) {
    Error e = opened.error();
    if (e.code == codes::kUnavailable)
      e.message = "journal: cannot reach PostgreSQL: " + e.message;
    return e;
  }
  return std::make_unique<PgJournal>(std::make_unique<PgJournal::Impl>(options, token));
}

}  // namespace wonderland::workflow
