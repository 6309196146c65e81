// Child workflows of workflow and map steps, on the engine core's side. Every request is
// idempotent: a child id is derived from its parent's id and step (child_workflow_id), the
// parent records it before asking, and a request that finds the child already running, or
// already ended, does not act twice; an ended child's end is reported to the parent at once. So
// a restart between the parent's record and the child's start asks again safely.
#include <spdlog/spdlog.h>

#include "engine_core.hpp"

namespace wonderland::workflow {

using detail::ChildEffect;
using detail::ChildEnd;
using detail::JsonObject;
using detail::Phase;
using nlohmann::json;

namespace {

/// The record that settled a workflow last (its end), or nullptr.
const JournalRecord* settling_record(const WorkflowHistory& h) {
  for (auto it = h.records.rbegin(); it != h.records.rend(); ++it) {
    if (it->status && is_settled(*it->status))
      return &*it;
  }
  return nullptr;
}

/// The parent a workflow's `started` record names.
std::string parent_of(const WorkflowHistory& h) {
  if (h.records.empty())
    return {};
  const json& data = h.records.front().data;
  auto parent = data.find("parent");
  return parent != data.end() && parent->is_object() ? parent->value("workflow_id", std::string{})
                                                     : std::string{};
}

/// The end of a child that cannot start or be undone.
ChildEnd refused(Error e) {
  ChildEnd end;
  end.status = WorkflowStatus::kFailed;
  end.reason = e.message;
  end.error = std::move(e).with_retryable(false);  // asking again would not help
  return end;
}

/// The end reported for a completed child that cannot be undone: its parent's compensation of
/// the step stops there (needs attention) rather than counting it as undone.
ChildEnd cannot_undo(Error e) {
  ChildEnd end = refused(std::move(e));
  end.status = WorkflowStatus::kNeedsAttention;
  return end;
}

Error not_a_child(const std::string& child_id, const std::string& parent_id) {
  return Error::of(codes::kConflict,
                   "workflow " + child_id + " exists and is not a child of " + parent_id);
}

}  // namespace

void Engine::Core::execute(ChildEffect& e) {
  if (!find(e.workflow_id))
    return;  // the parent is gone (dropped, or taken over by another engine)
  switch (e.action) {
    case ChildEffect::Action::kStart:
      start_child(e);
      return;
    case ChildEffect::Action::kCancel:
      cancel_child(e);
      return;
    case ChildEffect::Action::kUndo:
      undo_child(e);
      return;
  }
}

std::optional<WorkflowHistory> Engine::Core::child_history(const ChildEffect& e, bool& absent) {
  absent = false;
  auto h = journal_.history(e.child_id);
  if (!h) {
    absent = h.error().code == codes::kNotFound;
    if (!absent) {
      spdlog::error("workflow {}: child workflow {} could not be read: {}", e.workflow_id,
                    e.child_id, h.error().message);
    }
    return std::nullopt;
  }
  if (parent_of(*h) != e.workflow_id) {
    on_child_end(e.workflow_id, e.step, e.child_id,
                 refused(not_a_child(e.child_id, e.workflow_id)));
    return std::nullopt;
  }
  if (h->summary.status == WorkflowStatus::kRunning) {
    spdlog::warn(
        "workflow {}: child workflow {} runs on another mediator; its end is not seen here",
        e.workflow_id, e.child_id);
    return std::nullopt;
  }
  return std::move(*h);
}

void Engine::Core::start_child(ChildEffect& e) {
  if (Instance* child = find(e.child_id)) {
    if (child->parent_id != e.workflow_id) {
      on_child_end(e.workflow_id, e.step, e.child_id,
                   refused(not_a_child(e.child_id, e.workflow_id)));
    }
    return;  // running here: its end will be reported
  }
  bool absent = false;
  if (auto h = child_history(e, absent)) {
    if (const JournalRecord* end = settling_record(*h))
      on_child_end(e.workflow_id, e.step, e.child_id, ChildEnd::of(*end));
    return;
  }
  if (!absent)
    return;
  auto def = registry_.find(e.definition, e.version);
  if (!def) {
    on_child_end(e.workflow_id, e.step, e.child_id,
                 refused(Error::of(codes::kNotFound, "no workflow definition " + e.definition +
                                                         " v" + std::to_string(e.version))));
    return;
  }
  JsonObject extra;
  extra.add("parent", json{{"workflow_id", e.workflow_id}, {"step", e.step}});
  if (e.index >= 0)
    extra.add("item", std::move(e.item)).add("index", e.index);
  begin(e.child_id, def, std::move(e.input), std::move(extra));
}

void Engine::Core::cancel_child(const ChildEffect& e) {
  Instance* child = find(e.child_id);
  if (!child || child->phase != Phase::kRunning || child->stopping)
    return;  // not running here, or already failing or being cancelled
  if (child->decided())
    return;  // past its pivot: it finishes, and the parent learns of its end as usual
  unwritten_.record(*child, events::kCancelRequested, nullptr, 0, json{{"reason", e.reason}});
  decider_.advance(*child);
}

void Engine::Core::undo_child(const ChildEffect& e) {
  if (find(e.child_id))
    return;  // being undone already: its end will be reported
  bool absent = false;
  auto h = child_history(e, absent);
  if (!h)
    return;
  if (h->summary.archived) {
    on_child_end(e.workflow_id, e.step, e.child_id, cannot_undo(archived(e.child_id)));
    return;
  }
  if (h->summary.status != WorkflowStatus::kCompleted) {
    // It ended otherwise (undone already, failed, or needs attention): report that.
    if (const JournalRecord* end = settling_record(*h))
      on_child_end(e.workflow_id, e.step, e.child_id, ChildEnd::of(*end));
    return;
  }
  auto rebuilt = recovery_.rebuild(*h);
  if (!rebuilt) {
    spdlog::error("workflow {}: child workflow {} cannot be undone: {}", e.workflow_id, e.child_id,
                  rebuilt.error().message);
    on_child_end(e.workflow_id, e.step, e.child_id, refused(rebuilt.error()));
    return;
  }
  Instance& child = **rebuilt;
  if (child.decided()) {
    // What a child did after its pivot stands: the parent's undo of this step cannot complete,
    // which leaves the parent needing attention rather than silently undoing it.
    on_child_end(e.workflow_id, e.step, e.child_id,
                 cannot_undo(Error::of(codes::kFailedPrecondition, "it passed its pivot step '" +
                                                                       child.def->pivot_step()->id +
                                                                       "' and cannot be undone")));
    return;
  }
  instances_.emplace(e.child_id, std::move(*rebuilt));
  unwritten_.record(child, events::kUndoRequested, nullptr, 0, json{{"reason", e.reason}},
                    WorkflowStatus::kRunning);
  decider_.advance(child);
}

void Engine::Core::on_child_end(const std::string& parent_id, const std::string& step,
                                const std::string& child_id, const ChildEnd& end) {
  Instance* parent = find(parent_id);
  if (!parent)
    return;
  const Step* s = parent->def->find_path(step);
  if (!s || !s->runs_children())
    return;
  decider_.child_ended(*parent, *s, child_id, end);
  decider_.advance(*parent);
}

std::vector<Engine::Core::SettledChild> Engine::Core::settled_children(
    const detail::JournalBatch& batch) {
  std::vector<SettledChild> out;
  for (const JournalRecord& r : *batch.records) {
    if (!r.status || !is_settled(*r.status))
      continue;
    const Instance* child = find(r.workflow_id);
    if (child && !child->parent_id.empty())
      out.push_back({child->parent_id, child->parent_step, r.workflow_id, ChildEnd::of(r)});
  }
  return out;
}

}  // namespace wonderland::workflow
