// Ownership of a shared journal (docs/workflows.md, "Several mediators on PostgreSQL"): the
// engine drops the workflows its journal lost to another engine and resumes those it claims
// from expired leases. A journal of one engine never loses or offers any, so none of this runs.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>

#include "engine_core.hpp"

namespace wonderland::workflow {

void Engine::Core::drop_lost() {
  const std::vector<std::string> lost = journal_.take_lost();
  if (lost.empty())
    return;
  std::uint64_t dropped = 0;
  for (const std::string& id : lost) {
    auto it = instances_.find(id);
    if (it == instances_.end())
      continue;
    for (StepState& st : it->second->steps) {
      if (st.timer)
        clock_.cancel(st.timer);
    }
    instances_.erase(it);
    ++dropped;
  }
  dropped_any_ = true;
  spdlog::warn("{} workflow(s) taken over by another mediator; dropped here", lost.size());
  metrics_.count_lost(dropped);
}

void Engine::Core::forget_records_of_dropped(detail::JournalBatch& batch) {
  auto kept = std::make_shared<std::vector<JournalRecord>>();
  std::vector<const Definition*> definitions;
  for (std::size_t i = 0; i < batch.records->size(); ++i) {
    if (!instances_.contains((*batch.records)[i].workflow_id))
      continue;
    kept->push_back(std::move((*batch.records)[i]));
    definitions.push_back(batch.definitions[i]);
  }
  batch.records = std::move(kept);
  batch.definitions = std::move(definitions);
}

void Engine::Core::drop_lost_and_flush() {
  drop_lost();
  flush();
}

void Engine::Core::adopt(const std::vector<WorkflowHistory>& claimed) {
  if (!healthy())
    return;
  const std::int64_t now = detail::to_ms(clock_.now());
  std::uint64_t resumed = 0;
  std::uint64_t skipped = 0;
  for (const WorkflowHistory& h : claimed) {
    if (instances_.contains(h.summary.id))
      continue;  // still driven here (cannot happen: its lease would not have expired)
    auto inst = recovery_.rebuild(h);
    if (!inst) {
      spdlog::error("workflow {} not taken over: {}", h.summary.id, inst.error().message);
      ++skipped;
      continue;
    }
    Instance& ref = **inst;
    instances_.emplace(h.summary.id, std::move(*inst));
    detail::Recovery::resume(ref, decider_, unwritten_, now);
    ++resumed;
  }
  metrics_.count_taken_over(resumed, skipped);
  if (resumed > 0)
    spdlog::info("took over {} workflow(s) whose leases expired", resumed);
}

namespace {
/// Posts `task` to the engine thread and waits until it ran; false when the engine did not run
/// it in time (it is stopping).
bool run_on_engine(Engine::Core& core, std::function<void()> task) {
  auto done = std::make_shared<std::promise<void>>();
  auto ran = done->get_future();
  core.post([done, task = std::move(task)] {
    task();
    done->set_value();
  });
  return ran.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
}
}  // namespace

Status Engine::maintain_ownership() {
  Core& core = *core_;
  if (core.on_engine_thread()) {
    return Error::of(codes::kFailedPrecondition,
                     "maintain_ownership must not run on the engine thread");
  }
  if (!core.healthy())
    return Error::of(codes::kUnavailable, "workflow engine is stopped");
  Journal& journal = core.journal();
  Status renewed = journal.renew();
  // Drop what was lost and hand its unwritten records to the journal, then wait until every
  // batch appended so far is written: a record of a dropped workflow can then never be written
  // after the workflow is claimed again (by this engine, once its leases lapsed).
  if (!run_on_engine(core, [&core] { core.drop_lost_and_flush(); }))
    return Error::of(codes::kUnavailable, "workflow engine is stopping");
  if (Status barrier = journal.append_and_wait(std::make_shared<std::vector<JournalRecord>>());
      !barrier) {
    return barrier;
  }
  if (!renewed)
    return renewed;
  auto claimed = journal.claim_expired();
  if (!claimed)
    return claimed.error();
  if (!claimed->empty()) {
    core.post([&core, claimed = std::move(*claimed)] { core.adopt(claimed); });
  }
  return ok_status();
}

}  // namespace wonderland::workflow
