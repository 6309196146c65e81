// SessionCounters: what a broker session counts (connects, publishes, confirms, deliveries,
// dead letters), written by its parts on the I/O thread and read from any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "wonderland/messaging/connection.hpp"

namespace wonderland::messaging::detail {

struct SessionCounters {
  std::atomic<std::uint64_t> connects{0}, published{0}, confirmed{0}, unconfirmed{0},
      publish_failures{0}, delivered{0}, dead_lettered{0};

  ConnectionStats snapshot() const {
    ConnectionStats s;
    s.connects = connects;
    s.published = published;
    s.confirmed = confirmed;
    s.unconfirmed = unconfirmed;
    s.publish_failures = publish_failures;
    s.delivered = delivered;
    s.dead_lettered = dead_lettered;
    return s;
  }
};

}  // namespace wonderland::messaging::detail
