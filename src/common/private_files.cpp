#include "wonderland/common/private_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <system_error>

namespace wonderland::files {
namespace {

constexpr mode_t kPrivateFile = S_IRUSR | S_IWUSR;
constexpr mode_t kPrivateDir = S_IRWXU;

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int err) {
  throw std::filesystem::filesystem_error(what, path,
                                          std::error_code(err, std::generic_category()));
}

/// Sets mode 0600 on an open file unless it has it already.
void tighten(int fd, const std::filesystem::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    fail("cannot inspect", path, errno);
  if ((st.st_mode & 07777) == kPrivateFile)
    return;
  if (::fchmod(fd, kPrivateFile) != 0)
    fail("cannot make the file private (mode 0600)", path, errno);
}

}  // namespace

void create_private_directories(const std::filesystem::path& dir) {
  if (dir.empty())
    return;
  std::filesystem::path current;
  for (const auto& part : dir) {
    current /= part;
    if (part.empty() || part == current.root_path() || part == "." || part == "..")
      continue;
    if (::mkdir(current.c_str(), kPrivateDir) == 0) {
      // The umask may have cleared bits of 0700; set exactly 0700.
      if (::chmod(current.c_str(), kPrivateDir) != 0)
        fail("cannot set mode 0700", current, errno);
      continue;
    }
    int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(current.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      continue;
    fail("cannot create the directory", current, err == EEXIST ? ENOTDIR : err);
  }
}

namespace {

/// Whether `path` is a regular file with mode 0600 already (a symbolic link is looked at, not
/// followed, under O_NOFOLLOW).
bool already_private(const std::filesystem::path& path, int flags) {
  struct stat st {};
  const int rc = (flags & O_NOFOLLOW) != 0 ? ::lstat(path.c_str(), &st) : ::stat(path.c_str(), &st);
  return rc == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == kPrivateFile;
}

/// Opens `path` with `flags`, tightens it to 0600 and closes it; false when it does not exist
/// and `missing_ok`. A file that is private already is not opened: closing a descriptor drops
/// every POSIX record lock this process holds on the file, and SQLite keeps its locks of an open
/// database (and of its -wal and -shm) that way; without them another process opening the
/// database believes it is alone and may delete the WAL under this one.
bool open_and_tighten(const std::filesystem::path& path, int flags, bool missing_ok) {
  if (already_private(path, flags))
    return true;
  int fd = ::open(path.c_str(), flags | O_RDONLY | O_CLOEXEC | O_NOCTTY, kPrivateFile);
  if (fd < 0) {
    if (missing_ok && errno == ENOENT)
      return false;
    fail("cannot open", path, errno);
  }
  try {
    tighten(fd, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return true;
}

}  // namespace

bool make_private_file(const std::filesystem::path& path, bool create) {
  if (create)
    create_private_directories(path.parent_path());
  return open_and_tighten(path, create ? O_CREAT : 0, !create);
}

namespace {

/// A name beside `path` that no other writer uses: a hidden temporary file of this process.
std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
  return path.parent_path() / ("." + path.filename().string() + ".tmp-" +
                               std::to_string(::getpid()) + "-" + std::to_string(++counter));
}

/// Creates `path` (it must not exist) with mode 0600 and writes `bytes` to it, flushed to disk;
/// removes it again and throws when it could not be written whole.
void write_new_file(const std::filesystem::path& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
                  kPrivateFile);
  if (fd < 0)
    fail("cannot create", path, errno);
  int err = 0;
  try {
    tighten(fd, path);
  } catch (...) {
    ::close(fd);
    ::unlink(path.c_str());
    throw;
  }
  for (std::size_t done = 0; done < bytes.size() && err == 0;) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n > 0)
      done += static_cast<std::size_t>(n);
    else if (n < 0 && errno != EINTR)
      err = errno;
    else if (n == 0)
      err = EIO;
  }
  if (err == 0 && ::fsync(fd) != 0)
    err = errno;
  ::close(fd);
  if (err != 0) {
    ::unlink(path.c_str());
    fail("cannot write", path, err);
  }
}

}  // namespace

bool write_private_file(const std::filesystem::path& path, std::string_view bytes,
                        Existing existing) {
  create_private_directories(path.parent_path());
  // Written whole under a temporary name first, then given its name in one step: a reader
  // never sees the file empty or half written (another process starting at the same moment
  // reads a key file as soon as it exists).
  const std::filesystem::path temporary = temporary_beside(path);
  write_new_file(temporary, bytes);
  // link() refuses an existing name (kKeep: the first writer wins); rename() replaces it, and
  // a symbolic link at `path` is replaced, never followed.
  const int rc = existing == Existing::kKeep ? ::link(temporary.c_str(), path.c_str())
                                             : ::rename(temporary.c_str(), path.c_str());
  const int err = rc == 0 ? 0 : errno;
  ::unlink(temporary.c_str());
  if (err == EEXIST && existing == Existing::kKeep)
    return false;
  if (err != 0)
    fail("cannot create", path, err);
  return true;
}

bool tighten_if_exists(const std::filesystem::path& path) {
  return open_and_tighten(path, O_NOFOLLOW, true);
}

}  // namespace wonderland::files
