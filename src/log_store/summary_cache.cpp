// SummaryCache: the rotated files' summaries on disk (summary_cache.hpp).
#include "summary_cache.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

namespace wonderland::log_store {
namespace {

/// What identifies a file's contents: inode, size and modification time.
std::string identity(const struct stat& st) {
  std::ostringstream out;
  out << st.st_ino << ' ' << st.st_size << ' ' << st.st_mtim.tv_sec << '.' << st.st_mtim.tv_nsec
      << '\n';
  return out.str();
}

std::optional<std::string> read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad())
    return std::nullopt;
  return bytes;
}

bool write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

SummaryCache::SummaryCache(const WriterOptions& options)
    : dir_(options.dir / (options.base_name + ".summaries")) {}

std::optional<FileSummary> SummaryCache::load(const OpenFile& file) const {
  struct stat st {};
  if (::fstat(file.fd, &st) != 0)
    return std::nullopt;
  auto bytes = read_all(dir_ / std::to_string(st.st_ino));
  if (!bytes)
    return std::nullopt;
  const std::string id = identity(st);
  if (bytes->compare(0, id.size(), id) != 0)
    return std::nullopt;  // another file under a reused inode number, or the file changed
  return FileSummary::decode(std::string_view(*bytes).substr(id.size()));
}

bool SummaryCache::save(const std::filesystem::path& path, const FileSummary& summary) const {
  struct stat st {};
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec || ::stat(path.c_str(), &st) != 0) {
    spdlog::warn("cannot keep the summary of {}: {}", path.string(),
                 ec ? ec.message() : std::strerror(errno));
    return false;
  }
  const auto target = dir_ / std::to_string(st.st_ino);
  const auto temp = dir_ / (std::to_string(st.st_ino) + ".tmp");
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write_all(fd, identity(st) + summary.encode());
  int err = ok ? 0 : errno;
  if (fd >= 0)
    ::close(fd);
  if (ok && ::rename(temp.c_str(), target.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    spdlog::warn("cannot write {}: {}", target.string(), std::strerror(err));
    std::filesystem::remove(temp, ec);
  }
  return ok;
}

void SummaryCache::prune(const std::vector<FileInfo>& rotated) const {
  std::set<std::string> keep;
  for (const auto& f : rotated)
    keep.insert(std::to_string(f.id));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (keep.count(entry.path().filename().string()) == 0)
      std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace wonderland::log_store
