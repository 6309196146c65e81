#include "wonderland/bench/stats.hpp"

#include <algorithm>

namespace wonderland::bench {

Figures summarize(std::vector<double> latencies_ms, double seconds, double cpu_seconds) {
  Figures f;
  if (latencies_ms.empty())
    return f;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto quantile = [&](double q) {
    return latencies_ms[std::min(
        latencies_ms.size() - 1,
        static_cast<std::size_t>(static_cast<double>(latencies_ms.size()) * q))];
  };
  f.samples = latencies_ms.size();
  f.per_second = static_cast<double>(latencies_ms.size()) / seconds;
  f.p50_ms = quantile(0.50);
  f.p99_ms = quantile(0.99);
  f.cpu_us_per_op = 1e6 * cpu_seconds / static_cast<double>(f.samples);
  return f;
}

}  // namespace wonderland::bench
