// The cost of one durable write on the disk under a folder: what every write-ahead journal pays
// at least once per commit, measured so that a latency figure can be set against its floor in the
// same run.
#pragma once

#include <array>
#include <filesystem>

#include "wonderland/bench/stats.hpp"

namespace wonderland::bench {

/// A preallocated file in a folder that takes durable 4 KiB writes, as a WAL's commits do once
/// the file has its size (an fdatasync that must also record a new size costs more). Removed when
/// destroyed. Throws std::runtime_error when the file cannot be written.
class DurableWriteFile {
 public:
  static constexpr std::size_t kBlock = 4096;

  explicit DurableWriteFile(const std::filesystem::path& dir);
  ~DurableWriteFile();
  DurableWriteFile(const DurableWriteFile&) = delete;
  DurableWriteFile& operator=(const DurableWriteFile&) = delete;

  /// One 4 KiB pwrite into the next block of the file, then fdatasync.
  void write();

 private:
  void write_block(int index);
  void remove() noexcept;
  [[noreturn]] void fail(const char* what) const;

  std::filesystem::path path_;
  int fd_ = -1;
  int next_ = 0;
  std::array<char, kBlock> block_{};
};

/// Times `samples` durable writes (DurableWriteFile::write) in `dir`.
Figures durable_write(const std::filesystem::path& dir, int samples);

}  // namespace wonderland::bench
