// LogStore: construction, the group commit that writes appended records (and keeps the index
// up to date), and the counters. Queries are in store_query.cpp.
#include "wonderland/log_store/store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

#include "store_index.hpp"
#include "summary_cache.hpp"
#include "wonderland/log_store/csv.hpp"

namespace wonderland::log_store {

struct LogStore::Waiter {
  bool done = false;
  std::exception_ptr error;
};

struct LogStore::Pending {
  StoredRecord stored;
  std::string row;
  Waiter* waiter = nullptr;
};

/// What writing a batch did: where its rows went and the files afterwards.
struct LogStore::WrittenBatch {
  std::vector<RowPosition> positions;
  std::vector<FileInfo> files;
  std::uint64_t oldest = 0;
  std::uint64_t rotations = 0;
  std::exception_ptr error;
};

namespace {

/// The id of the file of `generation` among `files`; `fallback` when none has it.
std::uint64_t file_id_of(const std::vector<FileInfo>& files, std::uint64_t generation,
                         std::uint64_t fallback) {
  std::uint64_t id = fallback;
  for (const auto& f : files) {
    if (f.generation == generation)
      id = f.id;
  }
  return id;
}

}  // namespace

LogStore::LogStore(StoreOptions options, BatchObserver observer)
    : options_(std::move(options)),
      observer_(std::move(observer)),
      writer_(std::make_unique<RotatingCsvWriter>(options_.writer)),
      index_(std::make_unique<StoreIndex>(options_.index_capacity)),
      summary_cache_(std::make_unique<SummaryCache>(options_.writer)) {
  std::vector<OpenFile> files = writer_->open_all();
  kept_summaries_ =
      index_->load(files, files.size() == writer_->files().size(), summary_cache_.get());
  keep_summaries(writer_->files());
}

LogStore::~LogStore() = default;

void LogStore::append(Record record, bool live) {
  std::vector<Record> one;
  one.push_back(std::move(record));
  append(std::move(one), live);
}

void LogStore::append(std::vector<Record> records, bool live) {
  if (records.empty())
    return;
  Waiter waiter;
  std::vector<Pending> mine = to_pending(std::move(records), live, waiter);
  std::unique_lock lock(mu_);
  for (auto& p : mine)
    pending_.push_back(std::move(p));
  if (flushing_ && pending_.size() >= options_.max_batch)
    leader_cv_.notify_one();
  while (!waiter.done) {
    if (flushing_) {
      cv_.wait(lock);
      continue;
    }
    lead_batch(lock);
  }
  if (waiter.error)
    std::rethrow_exception(waiter.error);
}

std::vector<LogStore::Pending> LogStore::to_pending(std::vector<Record>&& records, bool live,
                                                    Waiter& waiter) {
  std::vector<Pending> pending(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    Pending& p = pending[i];
    Record& r = p.stored.record;
    r = std::move(records[i]);
    r.time = floor_to_ms(r.time);
    p.stored.fields_json = csv::fields_json(r.fields);
    p.stored.live = live;
    p.row.reserve(96 + r.message.size() + p.stored.fields_json.size());
    csv::append_row(p.row, r, p.stored.fields_json);
    p.waiter = &waiter;
  }
  return pending;
}

void LogStore::lead_batch(std::unique_lock<std::mutex>& lock) {
  // Write everything queued so far (after lingering for company).
  flushing_ = true;
  if (options_.linger.count() > 0 && pending_.size() < options_.max_batch) {
    leader_cv_.wait_for(lock, options_.linger,
                        [this] { return pending_.size() >= options_.max_batch; });
  }
  std::vector<Pending> batch;
  batch.swap(pending_);
  lock.unlock();
  std::exception_ptr error;
  try {
    write_batch(batch);
  } catch (...) {
    error = std::current_exception();
  }
  lock.lock();
  for (auto& p : batch) {
    p.waiter->error = error;
    p.waiter->done = true;
  }
  cv_.notify_all();
  if (!error && observer_) {
    std::vector<StoredRecord> written;
    written.reserve(batch.size());
    for (auto& p : batch)
      written.push_back(std::move(p.stored));
    lock.unlock();
    try {
      observer_(std::move(written));
    } catch (const std::exception& e) {
      spdlog::warn("log store observer failed: {}", e.what());
    }
    lock.lock();
  }
  flushing_ = false;
  if (!pending_.empty())
    cv_.notify_all();  // someone else leads the next batch
}

void LogStore::write_batch(std::vector<Pending>& batch) {
  WrittenBatch written = write_rows(batch);
  index_batch(batch, written);
  count_batch(batch.size(), written);
  if (written.rotations != rotations_seen_) {
    rotations_seen_ = written.rotations;
    keep_summaries(written.files);
  }
  if (written.error)
    std::rethrow_exception(written.error);
}

LogStore::WrittenBatch LogStore::write_rows(const std::vector<Pending>& batch) {
  std::vector<std::string_view> rows;
  rows.reserve(batch.size());
  for (const auto& p : batch)
    rows.emplace_back(p.row);
  WrittenBatch written;
  written.positions.reserve(batch.size());
  std::lock_guard lock(write_mu_);
  try {
    writer_->write(rows, written.positions);
  } catch (...) {
    written.error = std::current_exception();
  }
  written.files = writer_->files();
  written.oldest = writer_->oldest_generation();
  written.rotations = writer_->rotations();
  return written;
}

void LogStore::index_batch(const std::vector<Pending>& batch, const WrittenBatch& written) {
  std::unique_lock lock(index_mu_);
  index_->evict_older_than(written.oldest);
  std::uint64_t cached_generation = 0;
  std::uint64_t cached_id = 0;
  for (std::size_t i = 0; i < written.positions.size(); ++i) {
    const RowPosition& pos = written.positions[i];
    if (pos.generation != cached_generation) {
      cached_generation = pos.generation;
      cached_id = file_id_of(written.files, cached_generation, cached_id);
    }
    index_->add_written(pos, cached_id, batch[i].stored.record, batch[i].stored.fields_json);
  }
}

void LogStore::count_batch(std::size_t records, const WrittenBatch& written) {
  std::lock_guard lock(stats_mu_);
  stats_.rotations = written.rotations;
  if (written.error) {
    ++stats_.write_failures;
  } else {
    stats_.appended += records;
    ++stats_.batches;
    stats_.largest_batch = std::max<std::uint64_t>(stats_.largest_batch, records);
  }
}

void LogStore::keep_summaries(const std::vector<FileInfo>& files) {
  std::vector<std::pair<const FileInfo*, FileSummary>> to_keep;
  {
    std::shared_lock lock(index_mu_);
    for (std::size_t k = 1; k < files.size(); ++k) {  // files[0] is the current file
      if (kept_summaries_.count(files[k].generation) != 0)
        continue;
      if (const FileSummary* summary = index_->summary(files[k].generation))
        to_keep.emplace_back(&files[k], *summary);
    }
  }
  for (const auto& [file, summary] : to_keep) {
    if (summary_cache_->save(file->path, summary))
      kept_summaries_.insert(file->generation);
  }
  const std::uint64_t oldest = files.empty() ? 0 : files.back().generation;
  kept_summaries_.erase(kept_summaries_.begin(), kept_summaries_.lower_bound(oldest));
  // The current file has no entry: one named after its inode number was left by a deleted file.
  summary_cache_->prune(files.empty() ? files
                                      : std::vector<FileInfo>(files.begin() + 1, files.end()));
}

StoreStats LogStore::stats() const {
  StoreStats s;
  {
    std::lock_guard lock(stats_mu_);
    s = stats_;
  }
  std::shared_lock lock(index_mu_);
  s.indexed = index_->entries().size();
  s.start_file_reads = index_->files_loaded();
  return s;
}

}  // namespace wonderland::log_store
