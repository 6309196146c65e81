// Size-rotated CSV files with a retention count.
//
// In `dir`, the current file is `<base>.csv`; older ones are `<base>.1.csv` (the newest of
// them) up to `<base>.<max_files-1>.csv` (the oldest). When the next row would take the
// current file beyond `max_bytes`, the files shift by one — the oldest is deleted — and a new
// current file is started with the header row. A file always receives at least one row, so a
// row larger than `max_bytes` makes a file of its own.
//
// When a rotation fails (a rename or delete is refused), writing continues in the current file
// beyond the limit, a warning is logged (at most once a minute), and the next write tries again.
//
// Rows are handed to the operating system with write(2) before `write` returns, so they survive
// a crash of the process (not of the machine unless `fsync` is set). A failed write truncates
// the file back to where the batch began, so no half row is ever left in the middle of a file.
// At start-up an existing current file is continued, unless it does not begin with the header
// or does not end with a complete row (the process died mid-write): then it is rotated away
// unchanged and a new one begun.
//
// Not thread-safe: one writer per directory, used by one thread at a time (LogStore serializes).
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace wonderland::log_store {

struct WriterOptions {
  std::filesystem::path dir = "var/logs/csv";
  std::string base_name = "wonderland";
  std::uint64_t max_bytes = 10ULL * 1024 * 1024;  ///< rotate beyond this size (bytes, >= 1)
  unsigned max_files = 10;                        ///< files kept, the current one included (>= 1)
  bool fsync = false;  ///< fdatasync(2) after every write (durable across power loss)
};

/// Where a row lies: the file's generation (larger = newer; assigned by this process, stable
/// while it runs) and the row's index among the file's data rows (0 = first after the header).
struct RowPosition {
  std::uint64_t generation = 0;
  std::uint64_t row = 0;
  friend bool operator==(const RowPosition&, const RowPosition&) = default;
  friend std::strong_ordering operator<=>(const RowPosition& a, const RowPosition& b) {
    return std::tie(a.generation, a.row) <=> std::tie(b.generation, b.row);
  }
};

/// One retained file.
struct FileInfo {
  std::filesystem::path path;
  std::uint64_t id = 0;          ///< inode number: survives renames, so cursors can name files
  std::uint64_t generation = 0;  ///< see RowPosition
  std::uint64_t size = 0;        ///< bytes written so far (exact for the current file)
};

/// An open, read-only descriptor of a retained file, taken while no write is in progress.
struct OpenFile {
  FileInfo info;
  int fd = -1;
  OpenFile() = default;
  OpenFile(FileInfo i, int f) : info(std::move(i)), fd(f) {}
  OpenFile(OpenFile&& o) noexcept;
  OpenFile& operator=(OpenFile&& o) noexcept;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile();
};

class RotatingCsvWriter {
 public:
  /// Creates `dir` if needed, deletes files beyond the retention count, and opens (or
  /// continues) the current file. Throws std::invalid_argument for bad options and
  /// std::system_error when the directory or file cannot be used.
  explicit RotatingCsvWriter(WriterOptions options);
  ~RotatingCsvWriter();
  RotatingCsvWriter(const RotatingCsvWriter&) = delete;
  RotatingCsvWriter& operator=(const RotatingCsvWriter&) = delete;

  const WriterOptions& options() const noexcept { return options_; }

  /// Appends `rows` (each a complete CSV row, terminator included) in order, rotating as
  /// needed, and appends each row's position to `positions`. Throws std::system_error when a
  /// write fails: the rows whose positions are already in `positions` stay written (they went
  /// to a file before a rotation), the rest are not (the file is truncated back).
  void write(const std::vector<std::string_view>& rows, std::vector<RowPosition>& positions);

  /// The retained files, newest (the current one) first.
  const std::vector<FileInfo>& files() const noexcept { return files_; }
  /// Opens every retained file for reading, newest first (files that vanished are skipped).
  std::vector<OpenFile> open_all() const;
  /// The generation of the oldest retained file: rows of older generations are deleted.
  std::uint64_t oldest_generation() const noexcept;
  /// Data rows in the current file.
  std::uint64_t current_rows() const noexcept { return current_rows_; }
  /// `<dir>/<base>.csv` for index 0, `<dir>/<base>.<index>.csv` otherwise.
  std::filesystem::path path_for(unsigned index) const;

  /// Counters since construction.
  std::uint64_t rotations() const noexcept { return rotations_; }
  std::uint64_t rotation_failures() const noexcept { return rotation_failures_; }

 private:
  /// Takes in the files found in the directory; returns whether the current file is one.
  bool adopt_existing_files();
  void open_current(bool fresh);
  void rotate();
  void try_rotate();
  void write_all(std::string_view bytes);

  WriterOptions options_;
  std::vector<FileInfo> files_;  // newest first; files_[0] is the current file
  int fd_ = -1;
  std::uint64_t current_rows_ = 0;
  std::uint64_t next_generation_ = 1;
  std::uint64_t rotations_ = 0;
  std::uint64_t rotation_failures_ = 0;
  std::chrono::steady_clock::time_point last_rotation_warning_{};
  std::string buffer_;
};

}  // namespace wonderland::log_store
