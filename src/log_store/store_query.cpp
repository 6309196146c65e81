// LogStore::query: one page of matching records, newest first, from the in-memory index and,
// for what the index does not hold, from the files (newest first, skipping those whose summary
// rules a match out).
#include <algorithm>
#include <deque>
#include <limits>
#include <optional>
#include <set>

#include "store_index.hpp"
#include "wonderland/log_store/csv.hpp"
#include "wonderland/log_store/store.hpp"

namespace wonderland::log_store {
namespace {

std::int64_t millis(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// A match of a query, before its fields are parsed.
struct Hit {
  Record record;
  std::string fields_text;
  std::uint64_t file_id = 0;
  std::uint64_t row = 0;
};

/// Where the cursor points among `files`; nullopt when its file was deleted by retention.
std::optional<RowPosition> cursor_position(const std::vector<OpenFile>& files,
                                           const Cursor& cursor) {
  std::optional<RowPosition> position;
  for (const auto& f : files) {
    if (f.info.id == cursor.file_id)
      position = RowPosition{f.info.generation, cursor.row};
  }
  return position;
}

/// Whether a data row may match `filter`, judged from its cells before they are parsed into a
/// record (the same comparisons Filter::matches makes on the record's copies of them).
bool cells_may_match(const Filter& filter, const csv::Parser::Row& cells) {
  if (cells.size() != csv::kColumns)
    return true;  // record_from_row refuses it
  if (filter.service && cells[1] != *filter.service)
    return false;
  if (filter.correlation_id && cells[3] != *filter.correlation_id)
    return false;
  return !filter.text || contains_ignoring_case(cells[4], *filter.text);
}

/// The page of `limit` records out of `hits` (one more tells that there is a next page).
QueryPage make_page(std::vector<Hit>& hits, std::size_t limit) {
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
  return page;
}

/// The search for one page: the index first, then the files for what the index lacks.
class PageSearch {
 public:
  /// `bound`: where the page starts (exclusive), the cursor's position.
  PageSearch(const Query& query, std::size_t need, std::optional<RowPosition> bound)
      : query_(query),
        need_(need),
        bound_(bound),
        scan_bound_(bound),
        verify_in_files_(query.cursor.has_value()) {
    hits_.reserve(std::min<std::size_t>(need, 1024));
  }

  /// Collects matches from the index and decides whether files must be read. False when the
  /// record at the cursor's position is not the cursor's record (the page is then empty).
  bool search_index(const StoreIndex& index, const std::vector<OpenFile>& files) {
    for (const auto& file : files) {
      const FileSummary* summary = index.summary(file.info.generation);
      if (summary != nullptr && !summary->may_match(query_.filter))
        skip_.insert(file.info.generation);
    }
    const auto& entries = index.entries();
    const std::size_t end = bound_ ? index.lower_bound(*bound_) : entries.size();
    if (bound_ && end < entries.size() && entries[end].pos == *bound_) {
      if (millis(entries[end].record.time) != query_.cursor->time_ms)
        return false;  // not the same record
      verify_in_files_ = false;
    }
    collect_from_index(index, end);
    if (hits_.size() < need_)
      decide_file_scan(index, end);
    return true;
  }

  /// Reads the files, newest first, for what the index does not hold. False when the cursor's
  /// record is not there any more (the page is then empty).
  bool search_files(const std::vector<OpenFile>& files) {
    if (!scan_)
      return true;
    for (const auto& file : files) {
      if (hits_.size() >= need_)
        break;
      if (scan_bound_ && file.info.generation > scan_bound_->generation)
        continue;
      if (skip_.count(file.info.generation) != 0)
        continue;
      if (!collect_from_file(file))
        return false;
    }
    return true;
  }

  std::vector<Hit>& hits() noexcept { return hits_; }
  std::size_t files_scanned() const noexcept { return scanned_; }

 private:
  /// Walks the index down from `end` (exclusive), jumping over files ruled out.
  void collect_from_index(const StoreIndex& index, std::size_t end) {
    const auto& entries = index.entries();
    std::size_t i = end;
    while (i > 0 && hits_.size() < need_) {
      const Entry& e = entries[--i];
      if (!skip_.empty() && skip_.count(e.pos.generation) != 0) {
        i = index.lower_bound(RowPosition{e.pos.generation, 0});  // jump over the whole file
        continue;
      }
      if (!query_.filter.matches(e.record))
        continue;
      hits_.push_back(Hit{e.record, e.fields_text, e.file_id, e.pos.row});
    }
  }

  /// After a walk of the index from `end` that found too few matches.
  void decide_file_scan(const StoreIndex& index, std::size_t end) {
    const auto& entries = index.entries();
    if (end > 0) {
      // Walked down to the oldest entry; older records exist only if the index is partial.
      scan_ = !index.complete();
      scan_bound_ = entries.front().pos;
    } else {
      // The page starts at or before the oldest entry (or the index is empty).
      bool nothing_older =
          index.complete() && (entries.empty() || !bound_ || *bound_ <= entries.front().pos);
      scan_ = !nothing_older;
    }
  }

  /// Adds the newest matches of `file` before the scan bound. False when the cursor's record
  /// should be in this file and is not.
  bool collect_from_file(const OpenFile& file) {
    const std::uint64_t row_limit = (scan_bound_ && file.info.generation == scan_bound_->generation)
                                        ? scan_bound_->row
                                        : std::numeric_limits<std::uint64_t>::max();
    const bool verify = verify_in_files_ && file.info.id == query_.cursor->file_id;
    bool verified = !verify;
    const std::size_t want = need_ - hits_.size();
    std::deque<Hit> found;  // oldest first; the newest `want` matches of this file
    ++scanned_;
    scan_file(file, [&](std::uint64_t row, const csv::Parser::Row& cells) {
      if (row >= row_limit) {
        if (verify && row == query_.cursor->row) {
          auto r = csv::record_from_row(cells, false);
          verified = r && millis(r->time) == query_.cursor->time_ms;
        }
        return false;
      }
      if (!cells_may_match(query_.filter, cells))
        return true;
      auto r = csv::record_from_row(cells, false);
      if (!r || !query_.filter.matches(*r))
        return true;
      found.push_back(Hit{std::move(*r), cells[5], file.info.id, row});
      if (found.size() > want)
        found.pop_front();
      return true;
    });
    if (!verified)
      return false;
    for (auto it = found.rbegin(); it != found.rend(); ++it)
      hits_.push_back(std::move(*it));
    return true;
  }

  const Query& query_;
  const std::size_t need_;
  const std::optional<RowPosition> bound_;
  std::optional<RowPosition> scan_bound_;  // files: rows before this (exclusive)
  bool verify_in_files_;
  bool scan_ = false;
  std::set<std::uint64_t> skip_;  // generations whose summary rules a match out
  std::vector<Hit> hits_;
  std::size_t scanned_ = 0;
};

}  // namespace

QueryPage LogStore::query(const Query& q) const {
  const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, kMaxLimit);
  std::vector<OpenFile> files;
  {
    std::lock_guard lock(write_mu_);
    files = writer_->open_all();
  }
  std::optional<RowPosition> bound;
  if (q.cursor) {
    bound = cursor_position(files, *q.cursor);
    if (!bound)
      return {};  // its file was deleted by retention: nothing older remains
  }
  PageSearch search(q, limit + 1, bound);  // one more tells whether there is a next page
  {
    std::shared_lock lock(index_mu_);
    if (!search.search_index(*index_, files))
      return {};
  }
  if (!search.search_files(files))
    return {};
  QueryPage page = make_page(search.hits(), limit);
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.queries;
    stats_.file_scans += search.files_scanned();
  }
  return page;
}

}  // namespace wonderland::log_store
