// The log store's in-memory index: the newest records in storage order, whether it holds
// everything the files hold, and a summary of every file; and reading a file's rows back, which
// fills the index at start-up and serves queries for older records. Internal to the store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "file_summary.hpp"
#include "summary_cache.hpp"
#include "wonderland/log_store/csv.hpp"
#include "wonderland/log_store/record.hpp"
#include "wonderland/log_store/writer.hpp"

namespace wonderland::log_store {

/// A record kept in memory: its fields as JSON text (parsed only when returned).
struct Entry {
  RowPosition pos;
  std::uint64_t file_id = 0;
  Record record;  // fields: null
  std::string fields_text;
};

/// Called with each data row of a file (index 0 = first after the header); false stops.
using RowVisitor = std::function<bool(std::uint64_t row, const csv::Parser::Row& cells)>;

/// Reads `file` up to its snapshot size and calls `on_row` for every data row until it returns
/// false. Returns false on a read error (logged).
bool scan_file(const OpenFile& file, const RowVisitor& on_row);

class StoreIndex {
 public:
  /// Holds up to `capacity` records; 0 holds none (and is never complete).
  explicit StoreIndex(std::size_t capacity) : capacity_(capacity) {}

  /// Reads the files of `files` (newest first) that hold the newest records, which fill the
  /// index, and gives each file its summary: from `cache` when it has one (then the file is not
  /// read), else by reading the file. `all_opened` tells whether `files` are all the retained
  /// files. Returns the generations whose summary came from the cache.
  std::set<std::uint64_t> load(const std::vector<OpenFile>& files, bool all_opened,
                               const SummaryCache* cache = nullptr);
  /// Files read by `load`.
  std::uint64_t files_loaded() const noexcept { return files_loaded_; }

  /// Takes in a record just written at `pos` of file `file_id` (with its fields column).
  void add_written(const RowPosition& pos, std::uint64_t file_id, const Record& record,
                   const std::string& fields_json);
  /// Forgets the records and summaries of files older than `generation` (deleted by retention).
  void evict_older_than(std::uint64_t generation);

  /// Oldest first, in storage order.
  const std::deque<Entry>& entries() const noexcept { return entries_; }
  /// Whether the index holds every record the files hold.
  bool complete() const noexcept { return complete_; }
  /// The summary of the file of `generation`, or null when there is none (such a file is read).
  const FileSummary* summary(std::uint64_t generation) const;
  /// The first entry at or after `pos`.
  std::size_t lower_bound(const RowPosition& pos) const;

 private:
  void push(Entry e);
  /// Reads one file: keeps its summary, returns its newest records up to `remaining` (oldest
  /// first), and marks the index incomplete when the file had more or could not be read.
  std::deque<Entry> load_file(const OpenFile& file, std::size_t remaining);

  std::size_t capacity_ = 0;
  std::deque<Entry> entries_;                       // oldest first, in storage order
  bool complete_ = true;                            // holds every record the files hold
  std::map<std::uint64_t, FileSummary> summaries_;  // by generation; files without one are read
  std::uint64_t files_loaded_ = 0;
};

}  // namespace wonderland::log_store
