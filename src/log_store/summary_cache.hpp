// The summaries of rotated files, kept on disk beside them so that start-up reads only the files
// the in-memory index needs: `<dir>/<base>.summaries/<inode>`, one file each, holding the file's
// inode, size and modification time and its FileSummary's binary form. Written once a file is
// rotated (it no longer changes). A cache only: the CSV files stay the truth, and an entry that is
// missing, damaged or describes another file (an inode number reused, a file changed) is ignored,
// so the summary is rebuilt from the file. Internal to the store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "file_summary.hpp"
#include "wonderland/log_store/writer.hpp"

namespace wonderland::log_store {

class SummaryCache {
 public:
  /// For the files of `options` (its directory and base name).
  explicit SummaryCache(const WriterOptions& options);

  /// The summary kept for `file`, when there is one for that file as it is now.
  std::optional<FileSummary> load(const OpenFile& file) const;
  /// Keeps `summary` for the file at `path` (written to a temporary file, then renamed). Returns
  /// false when it could not be written (logged); the summary is then rebuilt at the next start.
  bool save(const std::filesystem::path& path, const FileSummary& summary) const;
  /// Deletes the entries of files other than `rotated`: of files deleted by retention, and one
  /// named after an inode number that the current file now reuses.
  void prune(const std::vector<FileInfo>& rotated) const;

  const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace wonderland::log_store
