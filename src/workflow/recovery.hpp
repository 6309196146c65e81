// Recovery: bringing workflows back from the journal. At creation the engine loads every
// unfinished workflow, rebuilds its state by replaying its records (rebuild), and resumes it:
// what was in flight is sent again with the same idempotency keys, pending retries are
// rescheduled, and workflow and map steps ask again for their children (resume). An operator's
// retry of a settled workflow rebuilds it the same way. A journal shared by several engines
// (PostgreSQL) would claim its workflows in Journal::load_unfinished; nothing here changes.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "decisions.hpp"
#include "instance.hpp"
#include "unwritten_records.hpp"
#include "wonderland/common/error.hpp"
#include "wonderland/workflow/definition.hpp"
#include "wonderland/workflow/journal.hpp"

namespace wonderland::workflow::detail {

class Recovery {
 public:
  Recovery(const DefinitionRegistry& registry, Journal& journal)
      : registry_(registry), journal_(journal) {}

  struct Unfinished {
    std::vector<std::unique_ptr<Instance>> instances;  ///< In journal order.
    std::uint64_t skipped = 0;  ///< Unfinished workflows that could not be rebuilt.
    std::int64_t awaiting = 0;  ///< Workflows in needs_attention.
  };
  /// The unfinished workflows of the journal, rebuilt.
  Result<Unfinished> load_unfinished();

  /// A workflow's state from its records; `failed_precondition` when its definition is missing
  /// or changed since it started.
  Result<std::unique_ptr<Instance>> rebuild(const WorkflowHistory& h) const;

  /// Re-issues what was in flight when the previous engine stopped: commands and publications
  /// with their keys, retries at their due time; then advances the workflow.
  static void resume(Instance& inst, Decider& decider, UnwrittenRecords& unwritten,
                     std::int64_t now_ms);

 private:
  Result<std::int64_t> count_needing_attention();

  const DefinitionRegistry& registry_;
  Journal& journal_;
};

}  // namespace wonderland::workflow::detail
