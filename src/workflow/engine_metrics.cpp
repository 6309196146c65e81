#include "engine_metrics.hpp"

#include <algorithm>
#include <cmath>

namespace wonderland::workflow {

double LatencyStats::quantile(double q) const {
  if (recent_ms.empty())
    return 0;
  std::vector<double> sorted = recent_ms;
  std::sort(sorted.begin(), sorted.end());
  double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  return sorted[static_cast<std::size_t>(std::lround(pos))];
}

namespace detail {

void MetricsRecorder::sample(const std::string& service, const std::string& action, std::int64_t ms,
                             bool ok) {
  std::lock_guard lock(mutex_);
  auto& actions = latency_[service];
  auto it = actions.find(action);
  if (it == actions.end()) {
    LatencyRing fresh;
    fresh.stats.service = service;
    fresh.stats.action = action;
    it = actions.emplace(action, std::move(fresh)).first;
  }
  LatencyRing& ring = it->second;
  ring.stats.count += 1;
  ring.stats.errors += ok ? 0 : 1;
  ring.stats.total_ms += static_cast<double>(ms);
  if (latency_samples_ == 0)
    return;
  if (ring.stats.recent_ms.size() < latency_samples_) {
    ring.stats.recent_ms.push_back(static_cast<double>(ms));
  } else {
    ring.stats.recent_ms[ring.next] = static_cast<double>(ms);
  }
  ring.next = (ring.next + 1) % latency_samples_;
}

void MetricsRecorder::count(const std::vector<JournalRecord>& records) {
  std::lock_guard lock(mutex_);
  EngineMetrics& m = metrics_;
  for (const JournalRecord& r : records) {
    const std::string& t = r.type;
    if (t == events::kStepStarted) {
      m.step_attempts += r.attempt > 0 ? 1 : 0;
    } else if (t == events::kStepAttempt) {
      ++m.step_attempts;
    } else if (t == events::kStepAttemptFailed) {
      ++m.step_retries;
    } else if (t == events::kCompensationSucceeded) {
      ++m.compensations;
    } else if (t == events::kStarted) {
      ++m.started;
      ++m.in_flight;
    } else if (t == events::kRetryRequested) {
      ++m.in_flight;
      if (r.data.value("mode", "") == "compensation")
        --m.awaiting_attention;
    } else if (t == events::kRerunRequested) {
      ++m.in_flight;
      if (r.data.value("from_status", "") == "needs_attention")
        --m.awaiting_attention;
    } else if (t == events::kCompleted) {
      ++m.completed;
      --m.in_flight;
    } else if (t == events::kFailed || t == events::kCancelled) {
      ++(t == events::kFailed ? m.failed : m.cancelled);
      if (r.data.value("compensations", 0) > 0)
        ++m.compensated;
      --m.in_flight;
    } else if (t == events::kNeedsAttention) {
      ++m.needs_attention;
      ++m.awaiting_attention;
      --m.in_flight;
    }
  }
}

void MetricsRecorder::count_timeout() {
  std::lock_guard lock(mutex_);
  ++metrics_.timeouts;
}

void MetricsRecorder::count_recovery(std::uint64_t recovered, std::uint64_t skipped,
                                     std::int64_t awaiting) {
  std::lock_guard lock(mutex_);
  metrics_.awaiting_attention = awaiting;
  metrics_.recovered += recovered;
  metrics_.recovery_skipped += skipped;
  metrics_.in_flight += static_cast<std::int64_t>(recovered);
}

void MetricsRecorder::count_taken_over(std::uint64_t taken_over, std::uint64_t skipped) {
  std::lock_guard lock(mutex_);
  metrics_.taken_over += taken_over;
  metrics_.recovery_skipped += skipped;
  metrics_.in_flight += static_cast<std::int64_t>(taken_over);
}

void MetricsRecorder::count_lost(std::uint64_t lost) {
  std::lock_guard lock(mutex_);
  metrics_.lost += lost;
  metrics_.in_flight -= static_cast<std::int64_t>(lost);
}

EngineMetrics MetricsRecorder::snapshot() const {
  std::lock_guard lock(mutex_);
  EngineMetrics m = metrics_;
  for (const auto& [service, actions] : latency_) {
    for (const auto& [action, ring] : actions) {
      LatencyStats s = ring.stats;
      // Oldest first: once the ring is full, its next slot holds the oldest sample.
      if (!s.recent_ms.empty()) {
        std::rotate(
            s.recent_ms.begin(),
            s.recent_ms.begin() + static_cast<std::ptrdiff_t>(ring.next % s.recent_ms.size()),
            s.recent_ms.end());
      }
      m.step_latency.push_back(std::move(s));
    }
  }
  return m;
}

}  // namespace detail
}  // namespace wonderland::workflow
