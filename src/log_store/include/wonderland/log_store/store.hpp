// The record store: rotating CSV files, a recent in-memory index, and paged queries.
//
// Writing (group commit). `append` returns only once its records have been written to the
// current file (see writer.hpp for what that guarantees). Concurrent callers are combined: a
// caller that finds no write in progress takes everything queued so far — its own records and
// those of callers that arrived meanwhile — and writes it with one write(2); the others wait
// for that write and return. So many threads appending one record each get large batches
// without any of them returning before its record is on file: the logging service
// acknowledges a message only when `append` for it has returned.
//
// Reading. The newest `index_capacity` records are kept in memory (loaded from the files at
// start-up); a query walks them first and reads the CSV files, newest first, only for the
// older part of a page. Records deleted by file retention leave the index too, so a query sees
// exactly what the files hold. Every file also has a summary in memory (time range,
// severities, services, Bloom filters of correlation ids and of the messages' trigrams; kept up
// to date while writing): files — and their records in the index — that cannot match a query's
// filter are skipped without being read. When a file is rotated its summary is kept on disk too
// (`<dir>/<base>.summaries/`, see summary_cache.hpp), so that start-up reads only the files the
// index needs; a summary missing there, damaged or stale is rebuilt from its file. Measured with
// bench/log_service/log_query_benchmark (README): a page from the index takes well under a
// millisecond to a few, a page that needs a 10 MiB file read some 50-100 ms.
//
// Thread-safe: any number of threads may append and query at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/log_store/query.hpp"
#include "wonderland/log_store/record.hpp"
#include "wonderland/log_store/writer.hpp"

namespace wonderland::log_store {

struct StoreOptions {
  WriterOptions writer;
  /// Records kept in memory for fast queries; 0 disables the index (queries read the files).
  std::size_t index_capacity = 100'000;
  /// How long the caller that leads a write waits for more records to join its batch (unless
  /// `max_batch` are queued sooner). Trades a little latency for fewer, larger writes, and for
  /// acknowledgements that reach the broker in bursts; 0 writes at once.
  std::chrono::microseconds linger{0};
  /// A lingering leader stops waiting once this many records are queued.
  std::size_t max_batch = 1024;
};

struct StoreStats {
  std::uint64_t appended = 0;        ///< records written
  std::uint64_t batches = 0;         ///< write(2) batches (group commits)
  std::uint64_t largest_batch = 0;   ///< records in the largest batch
  std::uint64_t write_failures = 0;  ///< batches whose write failed
  std::uint64_t rotations = 0;
  std::size_t indexed = 0;  ///< records in the in-memory index now
  std::uint64_t queries = 0;
  std::uint64_t file_scans = 0;        ///< files read by queries
  std::uint64_t start_file_reads = 0;  ///< files read at start-up (the others' summaries kept)
};

/// A record as written, with its fields column (compact JSON text, ready to be reused).
struct StoredRecord {
  Record record;
  std::string fields_json;
  bool live = true;  ///< whether the batch observer should pass it on to live viewers
};

/// Called after each written batch with its records in storage order (the observer may keep
/// them). Runs on the appending thread that wrote the batch, after the batch's callers were
/// released, one batch at a time and in order. Must not call back into the store's append.
using BatchObserver = std::function<void(std::vector<StoredRecord>&& batch)>;

class StoreIndex;    // the in-memory index (internal to the store)
class SummaryCache;  // the rotated files' summaries on disk (internal to the store)

class LogStore {
 public:
  /// Opens (or creates) the files and fills the index from them. Throws std::system_error or
  /// std::invalid_argument as RotatingCsvWriter does.
  explicit LogStore(StoreOptions options, BatchObserver observer = {});
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  /// Writes `record` (group commit, see above) and returns once it is on file. Throws
  /// std::system_error when the write failed; the record is then not stored.
  /// `live` is handed to the batch observer with it (StoredRecord::live).
  void append(Record record, bool live = true);
  /// Writes `records` in order, as one unit of the group commit.
  void append(std::vector<Record> records, bool live = true);

  /// One page of records matching the query, newest first. Never fails for a well-formed
  /// query (a cursor whose records were deleted gives an empty page); I/O errors while reading
  /// old files skip those files and are logged to stderr.
  QueryPage query(const Query& query) const;

  StoreStats stats() const;
  const StoreOptions& options() const noexcept { return options_; }

 private:
  struct Pending;
  struct Waiter;
  struct WrittenBatch;

  /// `records` ready to be queued: each with its CSV row, all waited for by `waiter`.
  static std::vector<Pending> to_pending(std::vector<Record>&& records, bool live, Waiter& waiter);
  /// With `lock` (on mu_) held and no write in progress: writes everything queued, releases
  /// the callers of the batch and hands the batch to the observer.
  void lead_batch(std::unique_lock<std::mutex>& lock);
  void write_batch(std::vector<Pending>& batch);
  WrittenBatch write_rows(const std::vector<Pending>& batch);
  void index_batch(const std::vector<Pending>& batch, const WrittenBatch& written);
  void count_batch(std::size_t records, const WrittenBatch& written);
  /// Keeps on disk the summaries of the rotated files among `files` that have none there yet,
  /// and drops those of files no longer retained. On the writing path (or at construction).
  void keep_summaries(const std::vector<FileInfo>& files);

  StoreOptions options_;
  BatchObserver observer_;

  // Group commit.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable leader_cv_;
  std::vector<Pending> pending_;
  bool flushing_ = false;

  // The files; held while writing, and briefly by queries to take a snapshot.
  mutable std::mutex write_mu_;
  std::unique_ptr<RotatingCsvWriter> writer_;

  // The index.
  mutable std::shared_mutex index_mu_;
  std::unique_ptr<StoreIndex> index_;

  // The summaries on disk; used by the writing path only.
  std::unique_ptr<SummaryCache> summary_cache_;
  std::set<std::uint64_t> kept_summaries_;  // generations whose summary is on disk
  std::uint64_t rotations_seen_ = 0;

  mutable std::mutex stats_mu_;
  mutable StoreStats stats_;
};

}  // namespace wonderland::log_store
