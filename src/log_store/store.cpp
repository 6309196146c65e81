#include "wonderland/log_store/store.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <map>
#include <set>

#include "wonderland/log_store/csv.hpp"

namespace wonderland::log_store {
namespace {

std::int64_t millis(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// A record kept in memory: its fields as JSON text (parsed only when returned).
struct Entry {
  RowPosition pos;
  std::uint64_t file_id = 0;
  Record record;  // fields: null
  std::string fields_text;
};

/// A match of a query, before its fields are parsed.
struct Hit {
  Record record;
  std::string fields_text;
  std::uint64_t file_id = 0;
  std::uint64_t row = 0;
};

/// What a file holds, coarsely, so that a query can skip files that cannot contain a match:
/// the time range, the severities, the services (up to a cap) and a Bloom filter of the
/// correlation ids. Exact for "cannot match"; "may match" files are read.
class FileSummary {
 public:
  void add(const Record& r) {
    if (rows_ == 0 || r.time < min_time_)
      min_time_ = r.time;
    if (rows_ == 0 || r.time > max_time_)
      max_time_ = r.time;
    ++rows_;
    ++severities_[static_cast<std::size_t>(r.severity)];
    if (!services_overflow_ && services_.insert(r.service).second &&
        services_.size() > kMaxServices) {
      services_overflow_ = true;
      services_.clear();
    }
    auto [a, b] = hashes(r.correlation_id);
    for (std::uint64_t k = 0; k < kHashes; ++k) {
      std::uint64_t bit = (a + k * b) % kBits;
      bloom_[bit / 64] |= std::uint64_t{1} << (bit % 64);
    }
  }

  bool may_match(const Filter& f) const {
    if (rows_ == 0)
      return false;
    if (f.since && max_time_ < *f.since)
      return false;
    if (f.until && min_time_ >= *f.until)
      return false;
    if (f.severity && severities_[static_cast<std::size_t>(*f.severity)] == 0)
      return false;
    if (f.min_severity) {
      std::uint64_t n = 0;
      for (auto i = static_cast<std::size_t>(*f.min_severity); i < severities_.size(); ++i)
        n += severities_[i];
      if (n == 0)
        return false;
    }
    if (f.service && !services_overflow_ && services_.count(*f.service) == 0)
      return false;
    if (f.correlation_id) {
      auto [a, b] = hashes(*f.correlation_id);
      for (std::uint64_t k = 0; k < kHashes; ++k) {
        std::uint64_t bit = (a + k * b) % kBits;
        if ((bloom_[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0)
          return false;
      }
    }
    return true;
  }

 private:
  static constexpr std::size_t kMaxServices = 256;
  static constexpr std::uint64_t kBits = std::uint64_t{1}
                                         << 19;  // 64 KiB: ~1% false positives at 50k ids
  static constexpr std::uint64_t kHashes = 4;

  static std::pair<std::uint64_t, std::uint64_t> hashes(std::string_view s) {
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
    std::uint64_t h2 = (h >> 33) ^ (h * 0x9E3779B97F4A7C15ULL);
    return {h, h2 | 1};
  }

  std::uint64_t rows_ = 0;
  SystemTime min_time_{};
  SystemTime max_time_{};
  std::array<std::uint64_t, 4> severities_{};
  std::set<std::string, std::less<>> services_;
  bool services_overflow_ = false;
  std::vector<std::uint64_t> bloom_ = std::vector<std::uint64_t>(kBits / 64, 0);
};

/// Reads `file` up to its snapshot size and calls `on_row(index, row)` for every data row
/// (index 0 = first after the header) until it returns false. Returns false on a read error.
template <class Fn>
bool scan_file(const OpenFile& file, Fn&& on_row) {
  csv::Parser parser;
  std::uint64_t seen = 0;  // rows including the header
  bool stop = false;
  auto row_fn = [&](const csv::Parser::Row& row) {
    if (stop)
      return;
    std::uint64_t n = seen++;
    if (n == 0)
      return;  // the header
    if (!on_row(n - 1, row))
      stop = true;
  };
  constexpr std::size_t kChunk = 1 << 20;
  std::string buffer(kChunk, '\0');
  std::uint64_t offset = 0;
  while (offset < file.info.size && !stop) {
    std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, file.info.size - offset));
    ssize_t n = ::pread(file.fd, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      spdlog::warn("cannot read {}: {}", file.info.path.string(), std::strerror(errno));
      return false;
    }
    if (n == 0)
      break;  // truncated meanwhile
    offset += static_cast<std::uint64_t>(n);
    parser.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), row_fn);
  }
  if (!stop)
    parser.finish(row_fn);
  return true;
}

}  // namespace

struct LogStore::Waiter {
  bool done = false;
  std::exception_ptr error;
};

struct LogStore::Pending {
  StoredRecord stored;
  std::string row;
  Waiter* waiter = nullptr;
};

struct LogStore::Index {
  std::size_t capacity = 0;
  std::deque<Entry> entries;                       // oldest first, in storage order
  bool complete = true;                            // holds every record the files hold
  std::map<std::uint64_t, FileSummary> summaries;  // by generation; files without one are read

  void push(Entry e) {
    if (capacity == 0) {
      complete = false;
      return;
    }
    if (entries.size() == capacity) {
      entries.pop_front();
      complete = false;
    }
    entries.push_back(std::move(e));
  }
  void evict_older_than(std::uint64_t generation) {
    while (!entries.empty() && entries.front().pos.generation < generation)
      entries.pop_front();
    summaries.erase(summaries.begin(), summaries.lower_bound(generation));
  }
  /// The first entry at or after `pos`.
  std::size_t lower_bound(const RowPosition& pos) const {
    auto it = std::lower_bound(entries.begin(), entries.end(), pos,
                               [](const Entry& e, const RowPosition& p) { return e.pos < p; });
    return static_cast<std::size_t>(it - entries.begin());
  }
};

LogStore::LogStore(StoreOptions options, BatchObserver observer)
    : options_(std::move(options)),
      observer_(std::move(observer)),
      writer_(std::make_unique<RotatingCsvWriter>(options_.writer)),
      index_(std::make_unique<Index>()) {
  index_->capacity = options_.index_capacity;
  load_index();
}

LogStore::~LogStore() = default;

void LogStore::load_index() {
  // Every file is read once: the newest records fill the index, and each file gets its summary.
  std::vector<OpenFile> files = writer_->open_all();
  if (files.size() != writer_->files().size())
    index_->complete = false;
  if (index_->capacity == 0)
    index_->complete = false;
  std::size_t remaining = index_->capacity;
  std::deque<Entry> loaded;         // oldest first
  for (const auto& file : files) {  // newest first
    std::deque<Entry> from_file;
    FileSummary summary;
    bool trimmed = false;
    bool ok = scan_file(file, [&](std::uint64_t row, const csv::Parser::Row& cells) {
      auto r = csv::record_from_row(cells, false);
      if (!r)
        return true;
      summary.add(*r);
      if (remaining == 0) {
        trimmed = true;
        return true;
      }
      Entry e;
      e.pos = RowPosition{file.info.generation, row};
      e.file_id = file.info.id;
      e.record = std::move(*r);
      e.record.fields = nullptr;
      e.fields_text = cells[5];
      from_file.push_back(std::move(e));
      if (from_file.size() > remaining) {
        from_file.pop_front();
        trimmed = true;
      }
      return true;
    });
    if (!ok || trimmed)
      index_->complete = false;
    if (ok)
      index_->summaries.emplace(file.info.generation, std::move(summary));
    remaining -= from_file.size();
    for (auto it = from_file.rbegin(); it != from_file.rend(); ++it)
      loaded.push_front(std::move(*it));
  }
  index_->entries = std::move(loaded);
}

void LogStore::append(Record record, bool live) {
  std::vector<Record> one;
  one.push_back(std::move(record));
  append(std::move(one), live);
}

void LogStore::append(std::vector<Record> records, bool live) {
  if (records.empty())
    return;
  Waiter waiter;
  std::vector<Pending> mine(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    Pending& p = mine[i];
    Record& r = p.stored.record;
    r = std::move(records[i]);
    r.time = floor_to_ms(r.time);
    p.stored.fields_json = csv::fields_json(r.fields);
    p.stored.live = live;
    p.row.reserve(96 + r.message.size() + p.stored.fields_json.size());
    csv::append_row(p.row, r, p.stored.fields_json);
    p.waiter = &waiter;
  }
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
    // Lead: write everything queued so far (after lingering for company).
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
  if (waiter.error)
    std::rethrow_exception(waiter.error);
}

void LogStore::write_batch(std::vector<Pending>& batch) {
  std::vector<std::string_view> rows;
  rows.reserve(batch.size());
  for (const auto& p : batch)
    rows.emplace_back(p.row);
  std::vector<RowPosition> positions;
  positions.reserve(batch.size());
  std::exception_ptr error;
  std::vector<FileInfo> files;
  std::uint64_t oldest = 0;
  std::uint64_t rotations = 0;
  {
    std::lock_guard lock(write_mu_);
    try {
      writer_->write(rows, positions);
    } catch (...) {
      error = std::current_exception();
    }
    files = writer_->files();
    oldest = writer_->oldest_generation();
    rotations = writer_->rotations();
  }
  {
    std::unique_lock lock(index_mu_);
    index_->evict_older_than(oldest);
    std::uint64_t cached_generation = 0;
    std::uint64_t cached_id = 0;
    for (std::size_t i = 0; i < positions.size(); ++i) {
      Entry e;
      e.pos = positions[i];
      if (e.pos.generation != cached_generation) {
        cached_generation = e.pos.generation;
        for (const auto& f : files) {
          if (f.generation == cached_generation)
            cached_id = f.id;
        }
      }
      e.file_id = cached_id;
      const Record& r = batch[i].stored.record;
      e.record.time = r.time;
      e.record.service = r.service;
      e.record.severity = r.severity;
      e.record.correlation_id = r.correlation_id;
      e.record.message = r.message;
      e.record.fields = nullptr;
      e.fields_text = batch[i].stored.fields_json;
      index_->summaries[e.pos.generation].add(r);
      index_->push(std::move(e));
    }
  }
  {
    std::lock_guard lock(stats_mu_);
    stats_.rotations = rotations;
    if (error) {
      ++stats_.write_failures;
    } else {
      stats_.appended += batch.size();
      ++stats_.batches;
      stats_.largest_batch = std::max<std::uint64_t>(stats_.largest_batch, batch.size());
    }
  }
  if (error)
    std::rethrow_exception(error);
}

QueryPage LogStore::query(const Query& q) const {
  const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, kMaxLimit);
  const std::size_t need = limit + 1;  // one more tells whether there is a next page
  std::vector<Hit> hits;
  hits.reserve(std::min<std::size_t>(need, 1024));

  std::vector<OpenFile> files;
  {
    std::lock_guard lock(write_mu_);
    files = writer_->open_all();
  }

  // Where the page starts (exclusive): the cursor's position.
  std::optional<RowPosition> bound;
  if (q.cursor) {
    for (const auto& f : files) {
      if (f.info.id == q.cursor->file_id)
        bound = RowPosition{f.info.generation, q.cursor->row};
    }
    if (!bound)
      return {};  // its file was deleted by retention: nothing older remains
  }

  // The index first.
  bool scan = false;
  std::optional<RowPosition> scan_bound = bound;  // files: rows before this (exclusive)
  bool verify_in_files = q.cursor.has_value();
  std::set<std::uint64_t> skip;  // generations whose summary rules a match out
  {
    std::shared_lock lock(index_mu_);
    for (const auto& file : files) {
      auto it = index_->summaries.find(file.info.generation);
      if (it != index_->summaries.end() && !it->second.may_match(q.filter))
        skip.insert(file.info.generation);
    }
    const auto& entries = index_->entries;
    std::size_t end = bound ? index_->lower_bound(*bound) : entries.size();
    if (bound && end < entries.size() && entries[end].pos == *bound) {
      if (millis(entries[end].record.time) != q.cursor->time_ms)
        return {};  // not the same record
      verify_in_files = false;
    }
    std::size_t i = end;
    while (i > 0 && hits.size() < need) {
      const Entry& e = entries[--i];
      if (!skip.empty() && skip.count(e.pos.generation) != 0) {
        i = index_->lower_bound(RowPosition{e.pos.generation, 0});  // jump over the whole file
        continue;
      }
      if (!q.filter.matches(e.record))
        continue;
      hits.push_back(Hit{e.record, e.fields_text, e.file_id, e.pos.row});
    }
    if (hits.size() < need) {
      if (end > 0) {
        // Walked down to the oldest entry; older records exist only if the index is partial.
        scan = !index_->complete;
        scan_bound = entries.front().pos;
      } else {
        // The page starts at or before the oldest entry (or the index is empty).
        bool nothing_older =
            index_->complete && (entries.empty() || !bound || *bound <= entries.front().pos);
        scan = !nothing_older;
      }
    }
  }

  // Then the files, newest first, for what the index does not hold.
  std::size_t scanned = 0;
  if (scan) {
    for (const auto& file : files) {
      if (hits.size() >= need)
        break;
      if (scan_bound && file.info.generation > scan_bound->generation)
        continue;
      const std::uint64_t row_limit = (scan_bound && file.info.generation == scan_bound->generation)
                                          ? scan_bound->row
                                          : std::numeric_limits<std::uint64_t>::max();
      if (skip.count(file.info.generation) != 0)
        continue;
      const bool verify = verify_in_files && file.info.id == q.cursor->file_id;
      bool verified = !verify;
      const std::size_t want = need - hits.size();
      std::deque<Hit> found;  // oldest first; the newest `want` matches of this file
      ++scanned;
      scan_file(file, [&](std::uint64_t row, const csv::Parser::Row& cells) {
        if (row >= row_limit) {
          if (verify && row == q.cursor->row) {
            auto r = csv::record_from_row(cells, false);
            verified = r && millis(r->time) == q.cursor->time_ms;
          }
          return false;
        }
        auto r = csv::record_from_row(cells, false);
        if (!r || !q.filter.matches(*r))
          return true;
        found.push_back(Hit{std::move(*r), cells[5], file.info.id, row});
        if (found.size() > want)
          found.pop_front();
        return true;
      });
      if (!verified)
        return {};  // the cursor's record is not there any more
      for (auto it = found.rbegin(); it != found.rend(); ++it)
        hits.push_back(std::move(*it));
    }
  }

  QueryPage page;
  if (hits.size() > limit) {
    hits.resize(limit);
    const Hit& last = hits.back();
    page.next_cursor = Cursor{last.file_id, last.row, millis(last.record.time)}.encode();
  }
  page.records.reserve(hits.size());
  for (auto& h : hits) {
    h.record.fields = csv::parse_fields(h.fields_text);
    page.records.push_back(std::move(h.record));
  }
  // Pages follow arrival order, but the services' clocks stamp records a few milliseconds
  // apart from that: within a page, the newest timestamp comes first.
  std::stable_sort(page.records.begin(), page.records.end(),
                   [](const Record& a, const Record& b) { return a.time > b.time; });
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.queries;
    stats_.file_scans += scanned;
  }
  return page;
}

StoreStats LogStore::stats() const {
  StoreStats s;
  {
    std::lock_guard lock(stats_mu_);
    s = stats_;
  }
  std::shared_lock lock(index_mu_);
  s.indexed = index_->entries.size();
  return s;
}

}  // namespace wonderland::log_store
