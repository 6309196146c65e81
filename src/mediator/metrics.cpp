#include "wonderland/mediator/metrics.hpp"

#include <cstdio>
#include <span>

namespace wonderland::mediator {
namespace {

/// One histogram's series in Prometheus's text format: each bound's cumulative count
/// (`at_most[i]` for `bounds[i]`), then +Inf, the sum and the count, with `labels` (`k="v",...`)
/// on every line, or none.
void append_histogram(std::string& out, const std::string& name, const std::string& labels,
                      std::span<const double> bounds, std::span<const std::uint64_t> at_most,
                      std::uint64_t count, double sum) {
  const std::string bucket = name + "_bucket{" + (labels.empty() ? "" : labels + ",") + "le=\"";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  char text[64];
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    std::snprintf(text, sizeof text, "%g", bounds[i]);
    out.append(bucket).append(text).append("\"} ").append(std::to_string(at_most[i])) += '\n';
  }
  out += bucket + "+Inf\"} " + std::to_string(count) + "\n";
  std::snprintf(text, sizeof text, "%.6f", sum);
  out += name + "_sum" + braces + " " + text + "\n";
  out += name + "_count" + braces + " " + std::to_string(count) + "\n";
}

}  // namespace

workflow::Observer StepHistograms::observer() {
  return [this](const workflow::WorkflowEvent& e) {
    const auto& r = e.record;
    bool ok = r.type == workflow::events::kStepSucceeded ||
              r.type == workflow::events::kCompensationSucceeded;
    bool failed = r.type == workflow::events::kStepAttemptFailed ||
                  r.type == workflow::events::kCompensationAttemptFailed;
    if (!ok && !failed)
      return;
    if (!r.data.contains("duration_ms"))
      return;
    auto def = registry_.find(e.definition, e.version);
    if (!def)
      return;
    const auto* step = def->find_path(r.step);
    if (step == nullptr || step->service.empty())
      return;
    bool compensation = r.type == workflow::events::kCompensationSucceeded ||
                        r.type == workflow::events::kCompensationAttemptFailed;
    std::string action =
        compensation && step->compensation ? step->compensation->action : step->action;
    double ms = r.data.value("duration_ms", 0.0);
    observe(step->service, action, ms / 1000.0, failed);
  };
}

void StepHistograms::observe(const std::string& service, const std::string& action, double seconds,
                             bool error) {
  std::lock_guard lock(mu_);
  auto& h = histograms_[{service, action}];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i])
      ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
  if (error)
    ++h.errors;
}

std::string StepHistograms::prometheus() const {
  std::string out =
      "# HELP wonderland_step_duration_seconds Time from sending a step's command to its outcome.\n"
      "# TYPE wonderland_step_duration_seconds histogram\n";
  std::lock_guard lock(mu_);
  std::string labels;
  for (const auto& [key, h] : histograms_) {
    const auto& [service, action] = key;
    labels.assign("service=\"").append(service).append("\",action=\"").append(action) += '"';
    append_histogram(out, "wonderland_step_duration_seconds", labels, kBuckets, h.counts, h.count,
                     h.sum);
  }
  char line[512];
  out +=
      "# HELP wonderland_step_errors_total Step attempts that ended in an error.\n"
      "# TYPE wonderland_step_errors_total counter\n";
  for (const auto& [key, h] : histograms_) {
    std::snprintf(line, sizeof line,
                  "wonderland_step_errors_total{service=\"%s\",action=\"%s\"} %llu\n",
                  key.first.c_str(), key.second.c_str(), static_cast<unsigned long long>(h.errors));
    out += line;
  }
  return out;
}

nlohmann::json StepHistograms::to_json() const {
  nlohmann::json steps = nlohmann::json::array();
  std::lock_guard lock(mu_);
  for (const auto& [key, h] : histograms_) {
    // An estimate of the median from the buckets: the first bound reaching half the samples.
    double p50 = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      if (h.counts[i] * 2 >= h.count) {
        p50 = kBuckets[i];
        break;
      }
    }
    steps.push_back(
        {{"service", key.first},
         {"action", key.second},
         {"count", h.count},
         {"errors", h.errors},
         {"mean_ms", h.count == 0 ? 0.0 : 1000.0 * h.sum / static_cast<double>(h.count)},
         {"p50_le_ms", 1000.0 * p50}});
  }
  return steps;
}

std::string prometheus_text(const workflow::EngineMetrics& m, const StepHistograms& steps) {
  std::string out;
  char line[256];
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
                  name, static_cast<unsigned long long>(v));
    out += line;
  };
  counter("wonderland_workflows_started_total", "Workflows started.", m.started);
  counter("wonderland_workflows_completed_total", "Workflows that completed.", m.completed);
  counter("wonderland_workflows_failed_total", "Workflows that failed (after compensation).",
          m.failed);
  counter("wonderland_workflows_compensated_total", "Workflows whose compensation finished.",
          m.compensated);
  counter("wonderland_workflows_cancelled_total", "Workflows cancelled.", m.cancelled);
  counter("wonderland_workflows_needs_attention_total",
          "Workflows whose compensation could not finish.", m.needs_attention);
  counter("wonderland_step_attempts_total", "Step attempts sent.", m.step_attempts);
  counter("wonderland_step_retries_total", "Step attempts that were retries.", m.step_retries);
  counter("wonderland_step_timeouts_total", "Step attempts that timed out.", m.timeouts);
  counter("wonderland_workflows_recovered_total", "Workflows resumed from the journal at start.",
          m.recovered);
  counter("wonderland_workflows_taken_over_total",
          "Workflows taken over from another mediator whose lease expired.", m.taken_over);
  counter("wonderland_workflows_lost_total",
          "Workflows dropped because another mediator took them over.", m.lost);
  std::snprintf(
      line, sizeof line,
      "# HELP wonderland_workflows_in_flight Workflows running now.\n"
      "# TYPE wonderland_workflows_in_flight gauge\nwonderland_workflows_in_flight %lld\n",
      static_cast<long long>(m.in_flight));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP wonderland_workflows_awaiting_attention Workflows in needs_attention now.\n"
                "# TYPE wonderland_workflows_awaiting_attention gauge\n"
                "wonderland_workflows_awaiting_attention %lld\n",
                static_cast<long long>(m.awaiting_attention));
  out += line;
  out += steps.prometheus();
  return out;
}

std::string journal_prometheus(const workflow::JournalStats& stats) {
  const auto& c = stats.commit_latency;
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line,
                "# HELP wonderland_journal_commits_total Journal transactions that wrote records.\n"
                "# TYPE wonderland_journal_commits_total counter\n"
                "wonderland_journal_commits_total %llu\n"
                "# HELP wonderland_journal_records_total Records written to the journal.\n"
                "# TYPE wonderland_journal_records_total counter\n"
                "wonderland_journal_records_total %llu\n",
                static_cast<unsigned long long>(stats.commits),
                static_cast<unsigned long long>(stats.records));
  out += line;
  out +=
      "# HELP wonderland_journal_commit_duration_seconds Time from a journal transaction's start "
      "until it was durable.\n"
      "# TYPE wonderland_journal_commit_duration_seconds histogram\n";
  append_histogram(out, "wonderland_journal_commit_duration_seconds", "", c.kBuckets, c.at_most,
                   c.count, c.sum_seconds);
  return out;
}

nlohmann::json journal_json(const workflow::JournalStats& stats) {
  const auto& c = stats.commit_latency;
  return {{"commits", stats.commits},
          {"records", stats.records},
          {"timed_commits", c.count},
          {"commit_seconds_sum", c.sum_seconds},
          {"commit_p50_ms", 1000.0 * c.quantile(0.5)},
          {"commit_p99_ms", 1000.0 * c.quantile(0.99)}};
}

}  // namespace wonderland::mediator
