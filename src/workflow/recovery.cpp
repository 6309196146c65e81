#include "recovery.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace wonderland::workflow::detail {

using nlohmann::json;

Result<Recovery::Unfinished> Recovery::load_unfinished() {
  auto histories = journal_.load_unfinished();
  if (!histories)
    return histories.error();
  Unfinished out;
  for (const WorkflowHistory& h : *histories) {
    auto inst = rebuild(h);
    if (!inst) {
      spdlog::error("workflow {} not resumed: {}", h.summary.id, inst.error().message);
      ++out.skipped;
      continue;
    }
    out.instances.push_back(std::move(*inst));
  }
  auto awaiting = count_needing_attention();
  if (!awaiting)
    return awaiting.error();
  out.awaiting = *awaiting;
  return out;
}

Result<std::int64_t> Recovery::count_needing_attention() {
  std::int64_t awaiting = 0;
  WorkflowQuery stuck{.status = WorkflowStatus::kNeedsAttention, .limit = 1000};
  for (;;) {
    auto page = journal_.list(stuck);
    if (!page)
      return page.error();
    awaiting += static_cast<std::int64_t>(page->items.size());
    if (page->next_page_token.empty())
      return awaiting;
    stuck.page_token = page->next_page_token;
  }
}

Result<std::unique_ptr<Instance>> Recovery::rebuild(const WorkflowHistory& h) const {
  if (h.records.empty() || h.records.front().type != events::kStarted) {
    return Error::of(codes::kInternal, "journal of " + h.summary.id + " lacks its start");
  }
  const JournalRecord& first = h.records.front();
  auto def = registry_.find(h.summary.definition, h.summary.version);
  if (!def) {
    return Error::of(codes::kFailedPrecondition, "definition " + h.summary.definition + " v" +
                                                     std::to_string(h.summary.version) +
                                                     " is not registered");
  }
  if (first.data.value("digest", def->digest) != def->digest) {
    return Error::of(codes::kFailedPrecondition,
                     "definition " + def->name + " v" + std::to_string(def->version) +
                         " changed since the workflow started (" + def->source + ")");
  }
  auto inst = std::make_unique<Instance>();
  inst->id = h.summary.id;
  inst->def = def;
  for (const JournalRecord& r : h.records) {
    auto at = parse_iso8601(r.at);
    if (auto st = apply(*inst, r, at ? to_ms(*at) : 0); !st)
      return st.error();
  }
  return inst;
}

void Recovery::resume(Instance& inst, Decider& decider, UnwrittenRecords& unwritten,
                      std::int64_t now_ms) {
  std::size_t in_flight = 0;
  for (std::size_t i = 0; i < inst.steps.size(); ++i) {
    const StepState& st = inst.steps[i];
    const bool children = inst.def->steps[i].runs_children() &&
                          (st.status == StepStatus::kRunning || st.comp == CompStatus::kRunning);
    in_flight += st.in_flight || st.waiting || children ? 1 : 0;
  }
  unwritten.record(inst, events::kResumed, nullptr, 0, json{{"pending", in_flight}});
  for (std::size_t i = 0; i < inst.steps.size(); ++i) {
    StepState& st = inst.steps[i];
    const Step& step = inst.def->steps[i];
    const bool compensation = st.comp == CompStatus::kRunning;
    if (step.runs_children()) {
      decider.resume_children(inst, step);
    } else if (st.in_flight) {
      auto input = compensation ? step.compensation->input_template.render(InstanceScope(inst))
                                : step_input(inst, step);
      std::string key = idempotency_key(inst, step, compensation);
      if (input) {
        decider.emit(inst, step, std::move(*input), std::move(key), compensation);
      } else {
        decider.handle_outcome(inst, i, input.error());
      }
    } else if (st.waiting) {
      st.token = inst.next_token++;
      std::chrono::milliseconds delay(std::max<std::int64_t>(0, st.retry_at_ms - now_ms));
      unwritten.add_effect(TimerEffect{inst.id, i, st.token, delay});
    }
  }
  decider.advance(inst);
}

}  // namespace wonderland::workflow::detail
