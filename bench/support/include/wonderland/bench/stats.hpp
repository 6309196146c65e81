// Figures of a benchmark run: throughput and latency percentiles from measured samples.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace wonderland::bench {

struct Figures {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::size_t samples = 0;
  /// CPU time of this process per operation over the measured window, in microseconds (both
  /// ends, when the benchmark runs both in this process); 0 when not measured.
  double cpu_us_per_op = 0;
};

/// Throughput of `latencies_ms.size()` operations over `seconds`, and their p50 and p99; with
/// `cpu_seconds`, the process's CPU time over those seconds, also the CPU time per operation.
Figures summarize(std::vector<double> latencies_ms, double seconds, double cpu_seconds = 0);

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
double median(std::vector<double> values);

/// Several rounds of one cell as one: the rate over the rounds' total time, the CPU per operation
/// over all their operations, p50 and p99 the median of the rounds' values.
Figures combine_rounds(const std::vector<Figures>& rounds);

inline double ms_between(std::chrono::steady_clock::time_point a,
                         std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace wonderland::bench
