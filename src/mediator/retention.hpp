// The retention sweep: every interval, finished workflows older than the retention age move
// from the journal's hot tables to its archive (Journal::archive_finished()), in batches of a
// few hundred, each its own short transaction, so that the engine's appends go on in between.
// Each sweep that moved anything is logged with its count and duration; the total is the
// counter `wonderland_journal_archived_total`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "wonderland/runtime/periodic.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::mediator {

struct RetentionPolicy {
  std::chrono::milliseconds age{0};  ///< 0: keep everything hot (no sweep runs).
  std::chrono::milliseconds interval{60000};
  std::size_t batch = 500;  ///< Workflows per transaction.
};

class Retention {
 public:
  /// Starts sweeping every policy.interval when policy.age > 0.
  Retention(workflow::Journal& journal, RetentionPolicy policy);
  /// Stops (a sweep in progress ends after its current batch).
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  /// One sweep: batches until one moves fewer than a full batch; returns how many moved.
  std::size_t sweep();
  std::uint64_t archived_total() const { return archived_total_.load(); }
  /// `wonderland_journal_archived_total` in Prometheus text.
  std::string prometheus() const;

 private:
  workflow::Journal& journal_;
  const RetentionPolicy policy_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> archived_total_{0};
  std::unique_ptr<runtime::Periodic> periodic_;  ///< Last: stops first.
};

}  // namespace wonderland::mediator
