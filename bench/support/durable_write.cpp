#include "wonderland/bench/durable_write.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace wonderland::bench {
namespace {

constexpr std::size_t kBlock = 4096;
constexpr int kBlocks = 16;

/// Owns the probe's file descriptor and removes the file.
class ProbeFile {
 public:
  explicit ProbeFile(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0)
      fail("open");
  }
  ~ProbeFile() {
    ::close(fd_);
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  ProbeFile(const ProbeFile&) = delete;
  ProbeFile& operator=(const ProbeFile&) = delete;

  void write_block(int index, const std::array<char, kBlock>& block) {
    const auto offset = static_cast<off_t>(index) * static_cast<off_t>(kBlock);
    if (::pwrite(fd_, block.data(), block.size(), offset) != static_cast<ssize_t>(block.size()))
      fail("pwrite");
  }
  void sync() {
    if (::fdatasync(fd_) != 0)
      fail("fdatasync");
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error(std::string("durable write probe: ") + what + " " + path_.string() +
                             ": " + std::strerror(errno));
  }
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace

Figures durable_write(const std::filesystem::path& dir, int samples) {
  ProbeFile file(dir / "durable-write-probe");
  std::array<char, kBlock> block{};
  // The file gets its size first: a WAL is overwritten in place once it has grown, and an
  // fdatasync that must also record a new size costs more.
  for (int i = 0; i < kBlocks; ++i)
    file.write_block(i, block);
  file.sync();
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(samples));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < samples; ++i) {
    block[0] = static_cast<char>(i);
    const auto t0 = std::chrono::steady_clock::now();
    file.write_block(i % kBlocks, block);
    file.sync();
    ms.push_back(ms_between(t0, std::chrono::steady_clock::now()));
  }
  return summarize(std::move(ms), ms_between(start, std::chrono::steady_clock::now()) / 1000.0);
}

}  // namespace wonderland::bench
