#include "wonderland/bench/durable_write.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace wonderland::bench {
namespace {

constexpr int kBlocks = 16;

}  // namespace

DurableWriteFile::DurableWriteFile(const std::filesystem::path& dir)
    : path_(dir / "durable-write-probe") {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0)
    fail("open");
  try {
    for (int i = 0; i < kBlocks; ++i)
      write_block(i);
    if (::fdatasync(fd_) != 0)
      fail("fdatasync");
  } catch (...) {
    remove();  // the destructor does not run for a constructor that throws
    throw;
  }
}

DurableWriteFile::~DurableWriteFile() {
  remove();
}

void DurableWriteFile::remove() noexcept {
  ::close(fd_);
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

void DurableWriteFile::write() {
  block_[0] = static_cast<char>(next_);
  write_block(next_);
  next_ = (next_ + 1) % kBlocks;
  if (::fdatasync(fd_) != 0)
    fail("fdatasync");
}

void DurableWriteFile::write_block(int index) {
  const auto offset = static_cast<off_t>(index) * static_cast<off_t>(kBlock);
  if (::pwrite(fd_, block_.data(), block_.size(), offset) != static_cast<ssize_t>(block_.size()))
    fail("pwrite");
}

void DurableWriteFile::fail(const char* what) const {
  throw std::runtime_error(std::string("durable write probe: ") + what + " " + path_.string() +
                           ": " + std::strerror(errno));
}

Figures durable_write(const std::filesystem::path& dir, int samples) {
  DurableWriteFile file(dir);
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(samples));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < samples; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    file.write();
    ms.push_back(ms_between(t0, std::chrono::steady_clock::now()));
  }
  return summarize(std::move(ms), ms_between(start, std::chrono::steady_clock::now()) / 1000.0);
}

}  // namespace wonderland::bench
