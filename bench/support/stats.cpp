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

double median(std::vector<double> values) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

Figures combine_rounds(const std::vector<Figures>& rounds) {
  Figures all;
  double seconds = 0;
  double cpu_us = 0;
  std::vector<double> p50s;
  std::vector<double> p99s;
  for (const Figures& f : rounds) {
    all.samples += f.samples;
    if (f.per_second > 0)
      seconds += static_cast<double>(f.samples) / f.per_second;
    cpu_us += f.cpu_us_per_op * static_cast<double>(f.samples);
    p50s.push_back(f.p50_ms);
    p99s.push_back(f.p99_ms);
  }
  all.per_second = seconds > 0 ? static_cast<double>(all.samples) / seconds : 0;
  all.cpu_us_per_op = all.samples > 0 ? cpu_us / static_cast<double>(all.samples) : 0;
  all.p50_ms = median(std::move(p50s));
  all.p99_ms = median(std::move(p99s));
  return all;
}

}  // namespace wonderland::bench
