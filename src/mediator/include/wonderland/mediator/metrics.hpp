// Step latency histograms by service and action, fed by the engine's observer, and the
// Prometheus text exposition of every mediator metric.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "wonderland/workflow/definition.hpp"
#include "wonderland/workflow/engine.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::mediator {

class StepHistograms {
 public:
  /// Upper bounds of the buckets, in seconds.
  static constexpr std::array<double, 14> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};

  explicit StepHistograms(const workflow::DefinitionRegistry& registry) : registry_(registry) {}
  /// An engine observer: every step or compensation attempt with an outcome is one sample.
  workflow::Observer observer();
  /// `wonderland_step_duration_seconds` as a Prometheus histogram.
  std::string prometheus() const;
  nlohmann::json to_json() const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
    std::uint64_t errors = 0;
  };
  void observe(const std::string& service, const std::string& action, double seconds, bool error);

  const workflow::DefinitionRegistry& registry_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Histogram> histograms_;
};

/// The Prometheus text of the engine counters and gauge plus the step histograms.
std::string prometheus_text(const workflow::EngineMetrics& m, const StepHistograms& steps);

/// The journal's counters and `wonderland_journal_commit_duration_seconds` as Prometheus text.
std::string journal_prometheus(const workflow::JournalStats& stats);
/// The same for GET /api/metrics: counts, the commits' total time, and their p50 and p99 (ms).
nlohmann::json journal_json(const workflow::JournalStats& stats);

}  // namespace wonderland::mediator
