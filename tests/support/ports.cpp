#include "wonderland/testing/ports.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "wonderland/common/ids.hpp"

namespace wonderland::testing {
namespace {

bool can_bind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::filesystem::path lock_dir() {
  auto dir = std::filesystem::temp_directory_path() / "wonderland-test-ports";
  std::error_code ec;
  if (std::filesystem::create_directory(dir, ec))
    ::chmod(dir.c_str(), 01777);  // shared by every user's tests, like /tmp itself
  return dir;
}

/// The lock of `port`, held; -1 when another reservation holds it or the file cannot be made.
int lock_port(const std::filesystem::path& dir, int port) {
  const std::string file = (dir / std::to_string(port)).string();
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0)
    return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::optional<PortReservation> PortReservation::try_reserve(int first, int count,
                                                            int companion_offset) {
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    ports.push_back(first + i);
    if (companion_offset != 0)
      ports.push_back(first + i + companion_offset);
  }
  const auto dir = lock_dir();
  PortReservation held;
  held.first_ = first;
  for (int port : ports) {
    // The lock first: once it is held, no other test process binds the port on purpose, so the
    // bind check that follows tells whether anything else (a stray process) has it.
    int fd = lock_port(dir, port);
    if (fd < 0)
      return std::nullopt;
    held.lock_fds_.push_back(fd);
    if (!can_bind(port))
      return std::nullopt;
  }
  return held;
}

PortReservation PortReservation::reserve(int count, int companion_offset) {
  for (int tries = 0; tries < 200; ++tries) {
    const int first = 20000 + static_cast<int>(std::hash<std::string>{}(new_uuid()) %
                                               static_cast<std::size_t>(10000 - count));
    if (auto held = try_reserve(first, count, companion_offset))
      return std::move(*held);
  }
  throw std::runtime_error("no free port to reserve in 20000-29999");
}

PortReservation::PortReservation(PortReservation&& other) noexcept
    : first_(std::exchange(other.first_, 0)), lock_fds_(std::move(other.lock_fds_)) {
  other.lock_fds_.clear();
}

PortReservation& PortReservation::operator=(PortReservation&& other) noexcept {
  if (this != &other) {
    release();
    first_ = std::exchange(other.first_, 0);
    lock_fds_ = std::move(other.lock_fds_);
    other.lock_fds_.clear();
  }
  return *this;
}

PortReservation::~PortReservation() {
  release();
}

void PortReservation::release() {
  for (int fd : lock_fds_)
    ::close(fd);
  lock_fds_.clear();
  first_ = 0;
}

}  // namespace wonderland::testing
