// The reference the benchmarks compare against: echo round trips through the broker with bare
// rabbitmq-c (blocking calls, one connection per side, no envelope), as fast as the broker goes.
#pragma once

#include <cstddef>
#include <string>

#include "wonderland/bench/stats.hpp"

namespace wonderland::bench {

struct RawRpcOptions {
  bool persistent = false;  ///< persistent requests to a durable queue, confirms on both sides
  int in_flight = 1;
  double seconds = 3;
  std::size_t body_bytes = 256;
  std::string queue_prefix = "bench.raw.";
};

/// Round trips per second and their latency, measured for `seconds` after a short warm-up.
Figures raw_rpc(const std::string& url, const RawRpcOptions& options);

}  // namespace wonderland::bench
