// StoreIndex and scan_file: the log store's in-memory index and reading its files back
// (store_index.hpp).
#include "store_index.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace wonderland::log_store {
namespace {

/// `record` as the index keeps it: without its fields, which the entry holds as text.
Entry make_entry(const RowPosition& pos, std::uint64_t file_id, Record record,
                 std::string fields_text) {
  Entry e;
  e.pos = pos;
  e.file_id = file_id;
  e.record = std::move(record);
  e.record.fields = nullptr;
  e.fields_text = std::move(fields_text);
  return e;
}

/// A copy of `record` but for its fields (null).
Record without_fields(const Record& record) {
  Record r;
  r.time = record.time;
  r.service = record.service;
  r.severity = record.severity;
  r.correlation_id = record.correlation_id;
  r.message = record.message;
  r.fields = nullptr;
  return r;
}

}  // namespace

bool scan_file(const OpenFile& file, const RowVisitor& on_row) {
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

std::set<std::uint64_t> StoreIndex::load(const std::vector<OpenFile>& files, bool all_opened,
                                         const SummaryCache* cache) {
  if (!all_opened || capacity_ == 0)
    complete_ = false;
  std::set<std::uint64_t> cached;
  std::size_t remaining = capacity_;
  std::deque<Entry> loaded;         // oldest first
  for (const auto& file : files) {  // newest first
    if (remaining == 0 && cache != nullptr) {
      if (auto summary = cache->load(file)) {
        if (summary->rows() > 0)
          complete_ = false;  // records the index does not hold
        summaries_.insert_or_assign(file.info.generation, std::move(*summary));
        cached.insert(file.info.generation);
        continue;
      }
    }
    ++files_loaded_;
    std::deque<Entry> from_file = load_file(file, remaining);
    remaining -= from_file.size();
    for (auto it = from_file.rbegin(); it != from_file.rend(); ++it)
      loaded.push_front(std::move(*it));
  }
  entries_ = std::move(loaded);
  return cached;
}

std::deque<Entry> StoreIndex::load_file(const OpenFile& file, std::size_t remaining) {
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
    from_file.push_back(
        make_entry(RowPosition{file.info.generation, row}, file.info.id, std::move(*r), cells[5]));
    if (from_file.size() > remaining) {
      from_file.pop_front();
      trimmed = true;
    }
    return true;
  });
  if (!ok || trimmed)
    complete_ = false;
  if (ok)
    summaries_.emplace(file.info.generation, std::move(summary));
  return from_file;
}

void StoreIndex::add_written(const RowPosition& pos, std::uint64_t file_id, const Record& record,
                             const std::string& fields_json) {
  summaries_[pos.generation].add(record);
  push(make_entry(pos, file_id, without_fields(record), fields_json));
}

void StoreIndex::push(Entry e) {
  if (capacity_ == 0) {
    complete_ = false;
    return;
  }
  if (entries_.size() == capacity_) {
    entries_.pop_front();
    complete_ = false;
  }
  entries_.push_back(std::move(e));
}

void StoreIndex::evict_older_than(std::uint64_t generation) {
  while (!entries_.empty() && entries_.front().pos.generation < generation)
    entries_.pop_front();
  summaries_.erase(summaries_.begin(), summaries_.lower_bound(generation));
}

const FileSummary* StoreIndex::summary(std::uint64_t generation) const {
  auto it = summaries_.find(generation);
  return it == summaries_.end() ? nullptr : &it->second;
}

std::size_t StoreIndex::lower_bound(const RowPosition& pos) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), pos,
                             [](const Entry& e, const RowPosition& p) { return e.pos < p; });
  return static_cast<std::size_t>(it - entries_.begin());
}

}  // namespace wonderland::log_store
