// The kernel's byte counts of a broker connection's TCP socket (TCP_INFO), which show whether the
// broker is still taking what is written (the write watch) and still sending (the heartbeat rule),
// whoever read or wrote the bytes: rabbitmq-c or the library.
#pragma once

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>

namespace wonderland::messaging::detail {

/// The socket's TCP_INFO; nullopt when the kernel cannot say (not a TCP socket, closed).
inline std::optional<tcp_info> tcp_counters(int fd) noexcept {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (fd < 0 || ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
    return std::nullopt;
  return info;
}

}  // namespace wonderland::messaging::detail
