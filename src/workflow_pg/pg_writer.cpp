#include "pg_writer.hpp"

#include <algorithm>
#include <unordered_set>

#include "wonderland/common/json_text.hpp"

namespace wonderland::workflow::pg {
namespace {

constexpr const char* kLockRows =
    "SELECT id, owner, fence, status FROM workflows WHERE id = ANY($1::text[]) ORDER BY id "
    "FOR UPDATE";
constexpr const char* kInsertWorkflow =
    "INSERT INTO workflows (id, definition, version, status, reason, created_at, updated_at, "
    "owner, lease_until, fence) VALUES ($1, $2, $3, 'running', '', $4::timestamptz, "
    "$4::timestamptz, $5, now() + $6::float8 * interval '1 millisecond', 1)";
// The workflows of $1 the archive holds, moved back to `workflows` and `events` as they were, owned
// by $2 (fence 1, the lease over: they are settled). The archive row is locked first, and deleted
// only when its workflow went back in: a writer restoring it at the same time waits for it and
// then finds it hot, and a concurrent sweep only takes rows it can lock, which these are not
// until the transaction commits.
constexpr const char* kRestoreArchived =
    "WITH archived AS (SELECT id, definition, version, status, reason, created_at, updated_at, "
    "history FROM archived_workflows WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE), "
    "restored AS (INSERT INTO workflows (id, definition, version, status, reason, created_at, "
    "updated_at, owner, lease_until, fence) SELECT id, definition, version, status, reason, "
    "created_at, updated_at, $2, now(), 1 FROM archived ON CONFLICT (id) DO NOTHING RETURNING id), "
    "records AS (INSERT INTO events (workflow_id, seq, type, step, attempt, at, status, data) "
    "SELECT a.id, (e->>'seq')::bigint, e->>'type', COALESCE(e->>'step', ''), "
    "COALESCE((e->>'attempt')::integer, 0), (e->>'at')::timestamptz, e->>'status', e->'data' "
    "FROM archived a JOIN restored r ON r.id = a.id CROSS JOIN LATERAL "
    "jsonb_array_elements(a.history) AS e), "
    "dropped AS (DELETE FROM archived_workflows a USING restored r WHERE a.id = r.id) "
    "SELECT id FROM restored";
// All the records of a group in one statement, column by column (one round trip).
constexpr const char* kInsertEvents =
    "INSERT INTO events (workflow_id, seq, type, step, attempt, at, status, data) "
    "SELECT w, s::bigint, t, st, a::integer, at::timestamptz, NULLIF(stat, ''), d::jsonb "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::text[]) AS r(w, s, t, st, a, at, stat, d)";
// A workflow set running again (an operator's retry) gets a fresh lease, so that no other
// mediator claims it at once.
constexpr const char* kUpdateStatus =
    "UPDATE workflows SET status = $2, reason = $3, updated_at = $4::timestamptz, "
    "lease_until = CASE WHEN $2 = 'running' THEN now() + $5::float8 * interval '1 millisecond' "
    "ELSE lease_until END WHERE id = $1";

/// Runs `sql` as a statement prepared once per connection.
template <typename... Args>
pqxx::result exec(pqxx::work& tx, const char* name, const char* sql, Args&&... args) {
  tx.conn().prepare(name, sql);  // a no-op once declared with the same text
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

std::string reason_of(const JournalRecord& r) {
  auto reason = r.data.find("reason");
  return reason != r.data.end() && reason->is_string() ? reason->get<std::string>() : "";
}

/// The time of a record for a timestamptz column: its own, or now when it has none.
std::string at_of(const JournalRecord& r) {
  return r.at.empty() ? std::string("now") : r.at;
}

}  // namespace

void Writer::EventRows::add(const JournalRecord& r) {
  columns[0].push_back(r.workflow_id);
  columns[1].push_back(std::to_string(r.seq));
  columns[2].push_back(r.type);
  columns[3].push_back(r.step);
  columns[4].push_back(std::to_string(r.attempt));
  columns[5].push_back(at_of(r));
  columns[6].push_back(r.status ? std::string(to_string(*r.status)) : std::string());
  columns[7].push_back(to_json_text(r.data));
}

void Writer::EventRows::insert(pqxx::work& tx) const {
  exec(tx, "wl_journal_events", kInsertEvents, text_array(columns[0]), text_array(columns[1]),
       text_array(columns[2]), text_array(columns[3]), text_array(columns[4]),
       text_array(columns[5]), text_array(columns[6]), text_array(columns[7]));
}

Writer::Writer(WriterOptions options, Connection conn, Ownership& ownership)
    : options_(std::move(options)), conn_(std::move(conn)), ownership_(ownership) {
  thread_ = std::thread([this] { loop(); });
}

Writer::~Writer() {
  {
    std::lock_guard lock(queue_mutex_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void Writer::append(RecordBatch records, AppendCallback done) {
  {
    std::lock_guard lock(queue_mutex_);
    queue_.push_back(Pending{std::move(records), std::move(done)});
  }
  queue_cv_.notify_one();
}

JournalStats Writer::stats() const {
  return JournalStats{appends_.load(), records_.load(), commits_.load(), 0,
                      commit_latency_.snapshot()};
}

std::vector<Writer::Pending> Writer::next_group() {
  std::vector<Pending> group;
  std::unique_lock lock(queue_mutex_);
  queue_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
  std::size_t records = 0;
  while (!queue_.empty() && (group.empty() || records + queue_.front().records->size() <=
                                                  options_.max_records_per_commit)) {
    records += queue_.front().records->size();
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return group;
}

void Writer::loop() {
  for (;;) {
    std::vector<Pending> group = next_group();
    if (group.empty())
      return;  // stopping, and everything was written
    Status st = failure_ ? *failure_ : write_group(group);
    if (!st)
      failure_ = st.error();
    for (Pending& p : group)  // the caller frees its records on its own thread
      p.records.reset();
    for (Pending& p : group) {
      AppendCallback done = std::move(p.done);
      done(st);
    }
  }
}

Status Writer::write_group(const std::vector<Pending>& group) {
  std::size_t records = 0;
  for (const Pending& p : group)
    records += p.records->size();
  if (records > 0) {
    Written written;
    if (Status st = commit_with_retries(group, written); !st)
      return st;
    commits_.fetch_add(1, std::memory_order_relaxed);
    for (const auto& [id, state] : written.workflows)
      ownership_.written(id, state.second, state.first);
    records = written.records;
  }
  records_.fetch_add(records, std::memory_order_relaxed);
  appends_.fetch_add(group.size(), std::memory_order_relaxed);
  return ok_status();
}

Status Writer::commit_with_retries(const std::vector<Pending>& group, Written& written) {
  std::chrono::milliseconds delay(50);
  auto next_pause = [&delay] {
    auto d = delay;
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
    return d;
  };
  for (;;) {
    written = Written{};
    std::optional<std::int64_t> txid;
    Status st = try_commit(group, written, txid);
    // A deadlock or serialization failure (with a concurrent claim or renewal) rolled the
    // transaction back: like a lost connection, it is tried again.
    if (st || (st.error().code != codes::kUnavailable && st.error().code != codes::kAborted))
      return st;
    for (;;) {  // the connection is lost: wait for the database, then find out what happened
      if (!pause(next_pause()))
        return st;
      if (!txid)
        break;  // lost before the transaction had an id: nothing was written
      auto outcome = outcome_of(*txid);
      if (!outcome && outcome.error().code != codes::kUnavailable)
        return outcome.error();
      if (outcome && *outcome == "committed")
        return ok_status();
      if (outcome && *outcome == "aborted")
        break;
    }
  }
}

Status Writer::try_commit(const std::vector<Pending>& group, Written& written,
                          std::optional<std::int64_t>& txid) {
  return guarded(conn_, "append", [&]() -> Status {
    const auto began = std::chrono::steady_clock::now();
    pqxx::work tx(conn_.get());
    txid = tx.exec1("SELECT txid_current()")[0].as<std::int64_t>();
    auto admitted = admit(tx, group);
    for (const Pending& p : group) {
      for (const JournalRecord& r : *p.records) {
        auto fence = admitted.find(r.workflow_id);
        if (r.type == events::kStarted) {
          admitted[r.workflow_id] = RowOwner{true, 1, true};
          written.workflows[r.workflow_id] = {true, 1};
        } else if (fence == admitted.end()) {
          continue;  // lost: another mediator owns it now
        } else if (!written.workflows.contains(r.workflow_id)) {
          written.workflows[r.workflow_id] = {fence->second.running, fence->second.fence};
        }
        write(tx, r, written);
      }
    }
    if (written.records > 0)
      written.events.insert(tx);
    tx.commit();
    commit_latency_.record(std::chrono::steady_clock::now() - began);
    return ok_status();
  });
}

Result<std::string> Writer::outcome_of(std::int64_t txid) {
  return guarded(conn_, "append (commit outcome)", [&]() -> Result<std::string> {
    pqxx::nontransaction tx(conn_.get());
    auto row = tx.exec_params1("SELECT txid_status($1)", txid);
    if (row[0].is_null()) {
      return Error::of(codes::kInternal,
                       "journal: the outcome of a commit lost with the connection is unknown");
    }
    return row[0].as<std::string>();
  });
}

bool Writer::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(queue_mutex_);
  return !queue_cv_.wait_for(lock, delay, [&] { return stop_; });
}

std::unordered_map<std::string, RowOwner> Writer::admit(pqxx::work& tx,
                                                        const std::vector<Pending>& group) {
  std::unordered_set<std::string> started;
  std::unordered_set<std::string> seen;
  std::vector<std::string> ids;
  for (const Pending& p : group) {
    for (const JournalRecord& r : *p.records) {
      if (r.type == events::kStarted)
        started.insert(r.workflow_id);
      else if (!started.contains(r.workflow_id) && seen.insert(r.workflow_id).second)
        ids.push_back(r.workflow_id);
    }
  }
  std::unordered_map<std::string, RowOwner> admitted;
  if (ids.empty())
    return admitted;
  lock_rows(tx, ids, seen, admitted);
  if (seen.empty())
    return admitted;
  // Not hot: the sweep archived them after the engine decided to write them (an operator's
  // retry, a late signal). Restored, they are this mediator's, settled.
  ids.assign(seen.begin(), seen.end());
  for (const auto& row :
       exec(tx, "wl_journal_restore", kRestoreArchived, text_array(ids), options_.instance_id)) {
    const std::string id = row[0].as<std::string>();
    if (RowOwner owner{true, 1, false}; ownership_.admit(id, owner))
      admitted[id] = owner;
    seen.erase(id);
  }
  if (!seen.empty()) {  // or another writer restored them meanwhile
    ids.assign(seen.begin(), seen.end());
    lock_rows(tx, ids, seen, admitted);
  }
  if (!seen.empty()) {
    throw ErrorException(
        Error::of(codes::kInternal, "journal record for unknown workflow " + *seen.begin()));
  }
  return admitted;
}

void Writer::lock_rows(pqxx::work& tx, const std::vector<std::string>& ids,
                       std::unordered_set<std::string>& missing,
                       std::unordered_map<std::string, RowOwner>& admitted) {
  for (const auto& row : exec(tx, "wl_journal_lock", kLockRows, text_array(ids))) {
    const std::string id = row[0].as<std::string>();
    RowOwner owner{row[1].as<std::string>() == options_.instance_id, row[2].as<std::int64_t>(),
                   row[3].as<std::string>() == "running"};
    if (ownership_.admit(id, owner))
      admitted[id] = owner;
    missing.erase(id);
  }
}

void Writer::write(pqxx::work& tx, const JournalRecord& r, Written& written) {
  if (r.seq < 1) {
    throw ErrorException(Error::of(
        codes::kInternal, "journal record " + r.workflow_id + " has seq " + std::to_string(r.seq)));
  }
  const double lease_ms = static_cast<double>(options_.lease.count());
  if (r.type == events::kStarted) {
    exec(tx, "wl_journal_start", kInsertWorkflow, r.workflow_id,
         r.data.value("definition", std::string{}), r.data.value("version", 0), at_of(r),
         options_.instance_id, lease_ms);
  }
  written.events.add(r);
  if (r.status && r.type != events::kStarted) {  // the insert set `running` already
    const std::string status(to_string(*r.status));
    exec(tx, "wl_journal_status", kUpdateStatus, r.workflow_id, status, reason_of(r), at_of(r),
         lease_ms);
    written.workflows[r.workflow_id].first = *r.status == WorkflowStatus::kRunning;
  }
  ++written.records;
}

}  // namespace wonderland::workflow::pg
