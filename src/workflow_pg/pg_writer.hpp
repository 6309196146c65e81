// The PostgreSQL journal's write side: one thread that commits every batch queued while the
// previous transaction ran in the next transaction (group commit), writing only the records of
// workflows this mediator still owns (fencing, see pg_journal.hpp).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pg_connection.hpp"
#include "pg_ownership.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::workflow::pg {

struct WriterOptions {
  std::string instance_id;
  std::chrono::milliseconds lease;
  std::size_t max_records_per_commit;
};

class Writer {
 public:
  Writer(WriterOptions options, Connection conn, Ownership& ownership);
  /// Writes what is queued, then stops the thread.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void append(RecordBatch records, AppendCallback done);
  JournalStats stats() const;

 private:
  struct Pending {
    RecordBatch records;
    AppendCallback done;
  };
  /// What a group's transaction did, applied to the ownership once it committed: the final
  /// status of each workflow written (running or not) and its fence.
  /// The records of a group as columns, written by one statement.
  struct EventRows {
    std::array<std::vector<std::string>, 8> columns;
    void add(const JournalRecord& r);
    void insert(pqxx::work& tx) const;
  };
  struct Written {
    std::unordered_map<std::string, std::pair<bool, std::int64_t>> workflows;
    EventRows events;
    std::size_t records = 0;
  };

  std::vector<Pending> next_group();
  void loop();
  Status write_group(const std::vector<Pending>& group);
  /// Commits the group in one transaction. After a lost connection (or a deadlock, `aborted`) it
  /// tries again on a new one
  /// (backing off up to 1 s) until the transaction commits, fails for another reason or the
  /// writer stops; a commit whose outcome was lost is looked up with txid_status(), so a group
  /// is never written twice. Fills `written` from the transaction that committed.
  Status commit_with_retries(const std::vector<Pending>& group, Written& written);
  /// One attempt; `txid` gets the transaction's id once it is known.
  Status try_commit(const std::vector<Pending>& group, Written& written,
                    std::optional<std::int64_t>& txid);
  /// "committed", "aborted" or "in progress" for transaction `txid`, or an error when the
  /// database cannot be asked (or no longer knows it: `internal`).
  Result<std::string> outcome_of(std::int64_t txid);
  /// Sleeps `delay` unless the writer stops first; false when it stops.
  bool pause(std::chrono::milliseconds delay);
  /// Locks the rows of the workflows the group touches (except those it starts), restoring
  /// those the archive holds, and returns the rows of those this mediator may write. A workflow
  /// neither hot nor archived is an error.
  std::unordered_map<std::string, RowOwner> admit(pqxx::work& tx,
                                                  const std::vector<Pending>& group);
  /// Locks the `workflows` rows of `ids`, adds those this mediator may write to
  /// `admitted` and removes every one found from `missing`.
  void lock_rows(pqxx::work& tx, const std::vector<std::string>& ids,
                 std::unordered_set<std::string>& missing,
                 std::unordered_map<std::string, RowOwner>& admitted);
  void write(pqxx::work& tx, const JournalRecord& r, Written& written);

  WriterOptions options_;
  Connection conn_;  ///< Writer thread only.
  Ownership& ownership_;
  std::optional<Error> failure_;  ///< Sticky: refuse all after an error. Writer thread only.

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stop_ = false;

  std::atomic<std::uint64_t> appends_{0};
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> commits_{0};
  CommitLatencyRecorder commit_latency_;
  std::thread thread_;
};

}  // namespace wonderland::workflow::pg
