// The reference the benchmarks compare against: echo round trips through the broker with bare
// rabbitmq-c (blocking calls, one connection per side, no envelope), as fast as the broker goes.
#pragma once

#include <cstddef>
#include <filesystem>
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

/// What serial_write_ahead measured: whole workflows, and the round trips and the durable writes
/// inside them.
struct SerialWriteAhead {
  Figures workflows;
  Figures round_trips;
  Figures writes;
};

/// A write-ahead engine with nothing in it but its waits, one workflow at a time on one thread: a
/// durable write (DurableWriteFile in `dir`), then `steps` times a bare transient round trip
/// followed by a durable write. Each command leaves only after the write that decides it, as in
/// the workflow engine, so the workflows' latencies are the floor such an engine reaches on this
/// machine, with the broker's and the disk's work interleaved as they are in a real run (each part
/// measured alone leaves that out). Uses `options.seconds`, `body_bytes` and `queue_prefix`.
SerialWriteAhead serial_write_ahead(const std::string& url, const RawRpcOptions& options,
                                    const std::filesystem::path& dir, int steps);

}  // namespace wonderland::bench
