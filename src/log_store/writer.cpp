#include "wonderland/log_store/writer.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "wonderland/log_store/csv.hpp"

namespace wonderland::log_store {
namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

std::string read_whole(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(errno, "open " + path.string());
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      ::close(fd);
      fail(err, "read " + path.string());
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// Whether `text` is a file this writer can continue: the header first, complete rows, and a
// row terminator at the end. Counts the data rows.
bool continuable(std::string_view text, std::uint64_t& data_rows) {
  std::string header_crlf = std::string(csv::kHeader) + std::string(csv::kLineEnd);
  if (text.substr(0, header_crlf.size()) != header_crlf)
    return false;
  if (text.empty() || text.back() != '\n')
    return false;
  std::uint64_t rows = 0;
  csv::Parser parser;
  auto count = [&rows](const csv::Parser::Row&) { ++rows; };
  parser.feed(text, count);
  if (parser.finish(count))
    return false;
  data_rows = rows - 1;
  return true;
}

void check_options(const WriterOptions& options) {
  if (options.max_bytes == 0)
    throw std::invalid_argument("max_bytes must be at least 1");
  if (options.max_files == 0)
    throw std::invalid_argument("max_files must be at least 1");
  if (options.base_name.empty() || options.base_name.find('/') != std::string::npos) {
    throw std::invalid_argument("base_name must be a plain, non-empty file name");
  }
}

// The index of a retained file named `<prefix><index>.csv`; nullopt for any other name.
std::optional<unsigned> retained_index(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() + 4 || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - 4, 4, ".csv") != 0) {
    return std::nullopt;
  }
  std::string_view number(name.data() + prefix.size(), name.size() - prefix.size() - 4);
  unsigned index = 0;
  auto [ptr, err] = std::from_chars(number.data(), number.data() + number.size(), index);
  if (err != std::errc() || ptr != number.data() + number.size())
    return std::nullopt;
  return index;
}

// Files beyond the retention count (left by a run with a larger count) go now.
void remove_beyond_retention(const WriterOptions& options) {
  const std::string prefix = options.base_name + ".";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options.dir, ec)) {
    auto index = retained_index(entry.path().filename().string(), prefix);
    if (index && *index >= options.max_files)
      std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace

OpenFile::OpenFile(OpenFile&& o) noexcept : info(std::move(o.info)), fd(std::exchange(o.fd, -1)) {}

OpenFile& OpenFile::operator=(OpenFile&& o) noexcept {
  if (this != &o) {
    if (fd >= 0)
      ::close(fd);
    info = std::move(o.info);
    fd = std::exchange(o.fd, -1);
  }
  return *this;
}

OpenFile::~OpenFile() {
  if (fd >= 0)
    ::close(fd);
}

RotatingCsvWriter::RotatingCsvWriter(WriterOptions options) : options_(std::move(options)) {
  check_options(options_);
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec)
    fail(ec.value(), "create directory " + options_.dir.string());
  remove_beyond_retention(options_);
  if (!adopt_existing_files()) {
    open_current(true);
    return;
  }
  if (files_.front().size == 0) {
    files_.erase(files_.begin());
    open_current(true);
    return;
  }
  std::uint64_t rows = 0;
  if (continuable(read_whole(path_for(0)), rows)) {
    open_current(false);
    current_rows_ = rows;
    return;
  }
  rotate();  // keeps the damaged file as <base>.1.csv, untouched
}

bool RotatingCsvWriter::adopt_existing_files() {
  // Existing files, newest first, get generations counting down from the newest.
  std::error_code ec;
  std::vector<unsigned> existing;
  for (unsigned i = 0; i < options_.max_files; ++i) {
    if (std::filesystem::exists(path_for(i), ec))
      existing.push_back(i);
  }
  next_generation_ = existing.size() + 1;
  for (std::size_t k = 0; k < existing.size(); ++k) {
    FileInfo f;
    f.path = path_for(existing[k]);
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0)
      fail(errno, "stat " + f.path.string());
    f.id = static_cast<std::uint64_t>(st.st_ino);
    f.generation = existing.size() - k;
    f.size = static_cast<std::uint64_t>(st.st_size);
    files_.push_back(std::move(f));
  }
  return !existing.empty() && existing.front() == 0;
}

RotatingCsvWriter::~RotatingCsvWriter() {
  if (fd_ >= 0)
    ::close(fd_);
}

std::filesystem::path RotatingCsvWriter::path_for(unsigned index) const {
  if (index == 0)
    return options_.dir / (options_.base_name + ".csv");
  return options_.dir / (options_.base_name + "." + std::to_string(index) + ".csv");
}

std::uint64_t RotatingCsvWriter::oldest_generation() const noexcept {
  return files_.empty() ? next_generation_ : files_.back().generation;
}

void RotatingCsvWriter::open_current(bool fresh) {
  auto path = path_for(0);
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (fresh ? O_TRUNC : 0);
  fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0)
    fail(errno, "open " + path.string());
  struct stat st {};
  if (::fstat(fd_, &st) != 0)
    fail(errno, "stat " + path.string());
  if (fresh) {
    FileInfo f;
    f.path = path;
    f.id = static_cast<std::uint64_t>(st.st_ino);
    f.generation = next_generation_++;
    f.size = 0;
    files_.insert(files_.begin(), std::move(f));
    current_rows_ = 0;
    write_all(std::string(csv::kHeader) + std::string(csv::kLineEnd));
  } else {
    files_.front().size = static_cast<std::uint64_t>(st.st_size);
  }
}

void RotatingCsvWriter::rotate() {
  // Shift every retained file by one index; whatever would land beyond the count is deleted.
  // The current file is renamed while still open, so that when a step fails it stays the
  // current file (under its old name) and writing goes on.
  std::vector<unsigned> indices;
  for (const auto& f : files_) {
    unsigned found = options_.max_files;
    for (unsigned i = 0; i < options_.max_files; ++i) {
      if (f.path == path_for(i))
        found = i;
    }
    indices.push_back(found);
  }
  for (std::size_t k = files_.size(); k-- > 0;) {
    unsigned index = indices[k];
    if (index + 1 >= options_.max_files) {
      if (::unlink(files_[k].path.c_str()) != 0 && errno != ENOENT) {
        fail(errno, "delete " + files_[k].path.string());
      }
      files_.erase(files_.begin() + static_cast<std::ptrdiff_t>(k));
      indices.erase(indices.begin() + static_cast<std::ptrdiff_t>(k));
      continue;
    }
    auto to = path_for(index + 1);
    if (::rename(files_[k].path.c_str(), to.c_str()) != 0) {
      fail(errno, "rename " + files_[k].path.string() + " to " + to.string());
    }
    files_[k].path = to;
    indices[k] = index + 1;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  ++rotations_;
  open_current(true);
}

void RotatingCsvWriter::write_all(std::string_view bytes) {
  const std::uint64_t start = files_.front().size;
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      if (::ftruncate(fd_, static_cast<off_t>(start)) != 0) {
        // Nothing more to do: the reader discards a trailing partial row.
      }
      fail(err, "write " + files_.front().path.string());
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (options_.fsync && ::fdatasync(fd_) != 0) {
    int err = errno;
    fail(err, "fdatasync " + files_.front().path.string());
  }
  files_.front().size = start + bytes.size();
}

void RotatingCsvWriter::write(const std::vector<std::string_view>& rows,
                              std::vector<RowPosition>& positions) {
  if (fd_ < 0)
    open_current(true);  // a rotation failed after renaming the previous one
  buffer_.clear();
  std::uint64_t buffered_rows = 0;
  auto flush = [&] {
    if (buffer_.empty())
      return;
    write_all(buffer_);
    std::uint64_t generation = files_.front().generation;
    for (std::uint64_t i = 0; i < buffered_rows; ++i) {
      positions.push_back(RowPosition{generation, current_rows_ + i});
    }
    current_rows_ += buffered_rows;
    buffer_.clear();
    buffered_rows = 0;
  };
  for (std::string_view row : rows) {
    bool has_rows = current_rows_ + buffered_rows > 0;
    if (has_rows && files_.front().size + buffer_.size() + row.size() > options_.max_bytes) {
      flush();
      try_rotate();
    }
    buffer_.append(row);
    ++buffered_rows;
  }
  flush();
}

void RotatingCsvWriter::try_rotate() {
  try {
    rotate();
  } catch (const std::system_error& e) {
    if (fd_ < 0)
      throw;  // no current file to fall back to
    ++rotation_failures_;
    auto now = std::chrono::steady_clock::now();
    if (rotation_failures_ == 1 || now - last_rotation_warning_ > std::chrono::minutes(1)) {
      last_rotation_warning_ = now;
      spdlog::warn("cannot rotate {} ({}); writing on beyond the size limit ({} failures so far)",
                   files_.front().path.string(), e.what(), rotation_failures_);
    }
  }
}

std::vector<OpenFile> RotatingCsvWriter::open_all() const {
  std::vector<OpenFile> out;
  out.reserve(files_.size());
  for (const auto& f : files_) {
    int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_ino) != f.id) {
      ::close(fd);
      continue;
    }
    out.emplace_back(f, fd);
  }
  return out;
}

}  // namespace wonderland::log_store
