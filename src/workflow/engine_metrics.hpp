// The engine's counters, gauges and per-action latency samples (EngineMetrics). Written on the
// engine thread as records become durable and outcomes arrive; read from any thread. A new
// counter (e.g. signals received, sub-workflows started) is counted here from its record type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow::detail {

class MetricsRecorder {
 public:
  /// Keeps the latest `latency_samples` samples per service and action.
  explicit MetricsRecorder(std::size_t latency_samples) : latency_samples_(latency_samples) {}

  /// One attempt of `service`/`action` that got an outcome after `ms`.
  void sample(const std::string& service, const std::string& action, std::int64_t ms, bool ok);
  /// Counts durable records: starts, attempts, retries, endings.
  void count(const std::vector<JournalRecord>& records);
  void count_timeout();
  /// What the engine found in the journal at creation.
  void count_recovery(std::uint64_t recovered, std::uint64_t skipped, std::int64_t awaiting);
  /// Running workflows taken over from an expired lease (`skipped`: could not be rebuilt).
  void count_taken_over(std::uint64_t taken_over, std::uint64_t skipped);
  /// Running workflows dropped because another engine took them over.
  void count_lost(std::uint64_t lost);

  EngineMetrics snapshot() const;

 private:
  struct LatencyRing {
    LatencyStats stats;
    std::size_t next = 0;
  };

  const std::size_t latency_samples_;
  mutable std::mutex mutex_;
  EngineMetrics metrics_;
  /// By service, then action.
  std::map<std::string, std::map<std::string, LatencyRing, std::less<>>, std::less<>> latency_;
};

}  // namespace wonderland::workflow::detail
