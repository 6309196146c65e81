#include "retention.hpp"

#include "wonderland/log/log.hpp"

namespace wonderland::mediator {

Retention::Retention(workflow::Journal& journal, RetentionPolicy policy)
    : journal_(journal), policy_(policy) {
  if (policy_.age.count() > 0) {
    periodic_ = std::make_unique<runtime::Periodic>("journal retention", policy_.interval,
                                                    [this] { sweep(); });
  }
}

Retention::~Retention() {
  stopping_ = true;
  if (periodic_)
    periodic_->stop();
}

std::size_t Retention::sweep() {
  const auto started = std::chrono::steady_clock::now();
  std::size_t moved = 0;
  while (!stopping_) {
    auto batch = journal_.archive_finished(policy_.age, policy_.batch);
    if (!batch) {
      log::warn("journal retention: {}", batch.error().message);
      break;
    }
    moved += *batch;
    archived_total_.fetch_add(*batch, std::memory_order_relaxed);
    if (*batch < policy_.batch)
      break;
  }
  if (moved > 0) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    log::info("journal retention: archived {} finished workflow(s) in {} ms", moved, ms);
  }
  return moved;
}

std::string Retention::prometheus() const {
  return "# HELP wonderland_journal_archived_total Finished workflows this mediator moved to "
         "the journal's archive.\n# TYPE wonderland_journal_archived_total counter\n"
         "wonderland_journal_archived_total " +
         std::to_string(archived_total()) + "\n";
}

}  // namespace wonderland::mediator
