#include "engine_core.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <variant>

#include "wonderland/common/ids.hpp"

namespace wonderland::workflow {

using detail::CompStatus;
using detail::JsonObject;
using detail::Phase;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {
/// Records per journal batch before the engine flushes mid-drain.
constexpr std::size_t kFlushRecords = 4096;
}  // namespace

Engine::Core::Core(EngineOptions options, const DefinitionRegistry& registry, Journal& journal,
                   Transport& transport, Clock& clock)
    : options_(std::move(options)),
      registry_(registry),
      journal_(journal),
      transport_(transport),
      clock_(clock),
      metrics_(options_.latency_samples),
      unwritten_(clock),
      decider_(unwritten_, clock, metrics_, registry, options_.compensation_retry,
               options_.seed ? *options_.seed : std::random_device{}()),
      recovery_(registry, journal) {}

// ---- lifecycle ------------------------------------------------------------------------------

Status Engine::Core::recover() {
  auto unfinished = recovery_.load_unfinished();
  if (!unfinished)
    return unfinished.error();
  for (auto& inst : unfinished->instances) {
    resume_order_.push_back(inst->id);
    instances_.emplace(inst->id, std::move(inst));
  }
  metrics_.count_recovery(unfinished->instances.size(), unfinished->skipped, unfinished->awaiting);
  return ok_status();
}

void Engine::Core::start_thread() {
  if (!resume_order_.empty())
    post([this] { resume_all(); });
  executor_.start([this](bool drained) { checkpoint(drained); });
}

void Engine::Core::shutdown() {
  executor_.stop();
  // The engine thread is gone: its state is ours now. Pending timers would only be dropped.
  for (auto& [id, inst] : instances_) {
    for (StepState& st : inst->steps) {
      if (st.timer)
        clock_.cancel(st.timer);
    }
  }
}

void Engine::Core::resume_all() {
  const std::int64_t now = detail::to_ms(clock_.now());
  for (const std::string& id : resume_order_) {
    if (Instance* inst = find(id))
      detail::Recovery::resume(*inst, decider_, unwritten_, now);
  }
  resume_order_.clear();
}

// ---- requests (engine thread) ---------------------------------------------------------------

void Engine::Core::do_start(StartRequest req, StartCallback done) {
  if (!healthy())
    return done(Error::of(codes::kUnavailable, "workflow engine is stopped"));
  auto def = req.version > 0 ? registry_.find(req.definition, req.version)
                             : registry_.latest(req.definition);
  if (!def) {
    return done(Error::of(codes::kNotFound,
                          "no workflow definition " + req.definition +
                              (req.version > 0 ? " v" + std::to_string(req.version) : "")));
  }
  if (!req.input.is_object())
    return done(Error::of(codes::kInvalidArgument, "workflow input must be a JSON object"));
  std::string id = req.id.empty() ? new_uuid() : std::move(req.id);
  if (instances_.count(id))
    return done(Error::of(codes::kConflict, "workflow " + id + " already exists"));
  begin(id, def, std::move(req.input), detail::JsonObject());
  unwritten_.call_after_commit([done = std::move(done), id](const Status& st) {
    if (st) {
      done(id);
    } else {
      done(st.error());
    }
  });
}

Engine::Core::Instance& Engine::Core::begin(const std::string& id,
                                            const std::shared_ptr<const Definition>& def,
                                            json input, detail::JsonObject extra) {
  auto owned = std::make_unique<Instance>();
  Instance& inst = *owned;
  inst.id = id;
  inst.def = def;
  instances_.emplace(id, std::move(owned));
  unwritten_.record(inst, events::kStarted, nullptr, 0,
                    extra.add("definition", def->name)
                        .add("version", def->version)
                        .add("digest", def->digest)
                        .add("input", std::move(input))
                        .add("run", 0)
                        .done(),
                    WorkflowStatus::kRunning);
  decider_.advance(inst);
  return inst;
}

void Engine::Core::do_cancel(const std::string& id, std::string reason, StatusCallback done) {
  if (!healthy())
    return done(Error::of(codes::kUnavailable, "workflow engine is stopped"));
  Instance* inst = find(id);
  if (!inst)
    return done(not_running(id));
  if (inst->phase != Phase::kRunning) {
    return done(
        Error::of(codes::kFailedPrecondition, "workflow " + id + " is already being compensated"));
  }
  if (inst->decided()) {
    return done(Error::of(codes::kFailedPrecondition,
                          "workflow " + id + " passed its pivot step '" +
                              inst->def->pivot_step()->id +
                              "': what it did stands and it can no longer be cancelled"));
  }
  if (!inst->cancelled) {
    if (inst->stopping) {
      return done(Error::of(codes::kFailedPrecondition,
                            "workflow " + id + " is failing and will be compensated"));
    }
    unwritten_.record(*inst, events::kCancelRequested, nullptr, 0,
                      json{{"reason", std::move(reason)}});
    decider_.advance(*inst);
  }
  unwritten_.call_after_commit([done = std::move(done)](const Status& st) { done(st); });
}

Result<Engine::Core::SettledInstance> Engine::Core::settled(const std::string& id,
                                                            Result<WorkflowHistory>& loaded) {
  if (Instance* inst = find(id))
    return SettledInstance{inst, nullptr};
  if (!loaded)
    return loaded.error();
  if (loaded->summary.status == WorkflowStatus::kRunning)
    return running_elsewhere(id);
  if (loaded->summary.archived)
    return archived(id);
  auto rebuilt = recovery_.rebuild(*loaded);
  if (!rebuilt)
    return rebuilt.error();
  Instance* inst = rebuilt->get();
  return SettledInstance{inst, std::move(*rebuilt)};
}

void Engine::Core::adopt(SettledInstance& found) {
  if (found.rebuilt) {
    std::string id = found.rebuilt->id;
    instances_.emplace(std::move(id), std::move(found.rebuilt));
  }
}

void Engine::Core::do_retry(const std::string& id, Result<WorkflowHistory> loaded,
                            StatusCallback done) {
  if (!healthy())
    return done(Error::of(codes::kUnavailable, "workflow engine is stopped"));
  auto found = settled(id, loaded);
  if (!found)
    return done(found.error());
  Instance* inst = found->inst;
  if (inst->status != WorkflowStatus::kFailed && inst->status != WorkflowStatus::kNeedsAttention)
    return done(not_settled(id, inst->status, "retried"));
  adopt(*found);
  // A workflow stopped after its pivot undid nothing: it runs again from its failed steps.
  if (inst->status == WorkflowStatus::kFailed || inst->decided()) {
    unwritten_.record(*inst, events::kRetryRequested, nullptr, 0,
                      json{{"mode", "restart"}, {"run", inst->run + 1}}, WorkflowStatus::kRunning);
  } else {  // needs_attention
    unwritten_.record(*inst, events::kRetryRequested, nullptr, 0,
                      json{{"mode", "compensation"}, {"run", inst->run}}, WorkflowStatus::kRunning);
  }
  decider_.advance(*inst);
  unwritten_.call_after_commit([done = std::move(done)](const Status& st) { done(st); });
}

namespace {

/// Why `req` names no step a rerun can start from, if it does not.
std::optional<Error> rerun_refusal(const Definition& def, const RerunRequest& req) {
  const Step* step = def.find(req.step);
  const std::string what = def.name + " v" + std::to_string(def.version);
  if (!step)
    return Error::of(codes::kInvalidArgument, what + " has no step '" + req.step + "'");
  if (std::find(def.root.begin(), def.root.end(), step->index) == def.root.end()) {
    return Error::of(codes::kInvalidArgument,
                     "step '" + req.step + "' of " + what +
                         " is not in the top-level sequence; rerun from the step that holds it");
  }
  if (req.input && step->kind != StepKind::kTask && step->kind != StepKind::kPublish &&
      step->kind != StepKind::kWorkflow) {
    return Error::of(codes::kInvalidArgument, "step '" + req.step +
                                                  "' takes no input; only task, publish and "
                                                  "workflow steps do");
  }
  return std::nullopt;
}

}  // namespace

void Engine::Core::do_rerun(RerunRequest req, Result<WorkflowHistory> loaded, StatusCallback done) {
  if (!healthy())
    return done(Error::of(codes::kUnavailable, "workflow engine is stopped"));
  auto found = settled(req.workflow_id, loaded);
  if (!found)
    return done(found.error());
  Instance* inst = found->inst;
  std::optional<Error> refused = rerun_refusal(*inst->def, req);
  if (!refused && inst->status != WorkflowStatus::kFailed &&
      inst->status != WorkflowStatus::kNeedsAttention)
    refused = not_settled(req.workflow_id, inst->status, "rerun");
  if (refused)
    return done(std::move(*refused));
  adopt(*found);
  const Step& step = *inst->def->find(req.step);
  JsonObject data;
  data.add("from_status", std::string(to_string(inst->status)))
      .add("run", inst->run + 1)
      .add("requested_by", std::move(req.requested_by));
  if (step.kind == StepKind::kTask || step.kind == StepKind::kPublish ||
      step.kind == StepKind::kWorkflow) {
    auto previous = detail::step_input(*inst, step);
    data.add("previous_input", previous ? std::move(*previous) : json());
  }
  if (req.input)
    data.add("input", std::move(*req.input));
  unwritten_.record(*inst, events::kRerunRequested, &step, 0, data.done(),
                    WorkflowStatus::kRunning);
  decider_.advance(*inst);
  unwritten_.call_after_commit([done = std::move(done)](const Status& st) { done(st); });
}

void Engine::Core::do_signal(SignalRequest req, StatusCallback done) {
  if (!healthy())
    return done(Error::of(codes::kUnavailable, "workflow engine is stopped"));
  // A workflow that ended, or that will start no step any more, conflicts with the signal: one
  // recorded now could never be taken.
  Instance* inst = find(req.workflow_id);
  if (!inst) {
    Error e = not_running(req.workflow_id);
    if (e.code == codes::kFailedPrecondition || e.code == codes::kConflict) {  // ended, archived
      if (took_signal_before(req.workflow_id, req.signal_id))
        return done(ok_status());
      e.code = codes::kConflict;
    }
    return done(std::move(e));
  }
  if (inst->phase == Phase::kFinished) {
    if (!req.signal_id.empty() && inst->signal_ids.count(req.signal_id))
      return done(ok_status());
    return done(Error::of(codes::kConflict, "workflow " + req.workflow_id + " has ended"));
  }
  if (inst->phase != Phase::kRunning || inst->cancelled || inst->stopping) {
    return done(Error::of(codes::kConflict,
                          "workflow " + req.workflow_id + " is failing or being cancelled"));
  }
  const Definition& def = *inst->def;
  if (std::none_of(def.steps.begin(), def.steps.end(), [&](const Step& s) {
        return s.kind == StepKind::kSignal && s.signal == req.name;
      })) {
    return done(Error::of(codes::kInvalidArgument, "workflow " + req.workflow_id + " (" + def.name +
                                                       " v" + std::to_string(def.version) +
                                                       ") waits for no signal '" + req.name + "'"));
  }
  if (req.signal_id.empty())
    req.signal_id = new_uuid();
  if (!inst->signal_ids.count(req.signal_id)) {
    unwritten_.record(*inst, events::kSignalReceived, nullptr, 0,
                      JsonObject()
                          .add("signal", req.name)
                          .add("signal_id", req.signal_id)
                          .add("payload", std::move(req.payload))
                          .done());
    decider_.deliver_signal(*inst, req.name);
    decider_.advance(*inst);
  }
  unwritten_.call_after_commit([done = std::move(done)](const Status& st) { done(st); });
}

void Engine::Core::do_pause(const std::string& id, bool pause, StatusCallback done) {
  if (!healthy())
    return done(Error::of(codes::kUnavailable, "workflow engine is stopped"));
  Instance* inst = find(id);
  if (!inst)
    return done(not_running(id));
  if (inst->phase != Phase::kRunning || inst->stopping) {
    return done(Error::of(codes::kFailedPrecondition,
                          "workflow " + id + " is failing, being cancelled or compensated"));
  }
  if (inst->paused != pause) {
    unwritten_.record(*inst, pause ? events::kPauseRequested : events::kResumeRequested, nullptr, 0,
                      json::object());
    decider_.advance(*inst);
  }
  unwritten_.call_after_commit([done = std::move(done)](const Status& st) { done(st); });
}

// ---- journal batching -----------------------------------------------------------------------

void Engine::Core::checkpoint(bool drained) {
  if (!drained) {
    if (unwritten_.record_count() >= kFlushRecords)
      flush();
    return;
  }
  // Acting on a batch written here may decide more records (a workflow that settles at once):
  // they go the same way. An earlier batch still with the journal would be overtaken, and a
  // waiting task is better grouped with this batch than made to wait for its commit: both take
  // the journal's queue.
  while (!unwritten_.empty()) {
    if (appending_ > 0 || !executor_.idle())
      return flush();
    write_here();
  }
}

void Engine::Core::flush() {
  if (!unwritten_.empty())
    hand_to_journal(std::make_shared<detail::JournalBatch>(unwritten_.take()));
}

/// Writes the unwritten records on this thread when the journal is idle, and acts on them.
void Engine::Core::write_here() {
  detail::JournalBatch batch = unwritten_.take();
  std::optional<Status> st = journal_.write_now(batch.records);
  if (!st)
    return hand_to_journal(std::make_shared<detail::JournalBatch>(std::move(batch)));
  on_durable(batch, *st);
}

/// Appends the batch; its effects run on the engine thread once it is durable.
void Engine::Core::hand_to_journal(std::shared_ptr<detail::JournalBatch> batch) {
  std::weak_ptr<Core> weak = weak_from_this();
  RecordBatch records = batch->records;
  ++appending_;
  journal_.append(std::move(records), [weak, batch = std::move(batch)](Status st) mutable {
    // The batch moves on to the engine thread, which frees it.
    if (auto core = weak.lock()) {
      Core* self = core.get();
      self->post([self, batch = std::move(batch), st = std::move(st)] {
        --self->appending_;
        self->on_durable(*batch, st);
      });
    }
  });
}

void Engine::Core::on_durable(detail::JournalBatch& batch, const Status& st) {
  if (!st) {
    if (healthy_.exchange(false))
      spdlog::critical("workflow journal failed, the engine stops: {}", st.error().message);
    instances_.clear();
    for (detail::Effect& e : batch.effects) {
      if (auto* call = std::get_if<detail::CallEffect>(&e))
        call->fn(st);
    }
    return;
  }
  // A workflow another engine took over: its records were not written, nothing is issued.
  drop_lost();
  if (dropped_any_)
    forget_records_of_dropped(batch);
  for (detail::Effect& e : batch.effects)
    std::visit([&](auto& eff) { execute(eff); }, e);
  metrics_.count(*batch.records);
  notify_observers(batch);
  std::vector<SettledChild> children =
      batch.settled.empty() ? std::vector<SettledChild>{} : settled_children(batch);
  for (const std::string& id : batch.settled) {
    auto it = instances_.find(id);
    if (it != instances_.end() && it->second->phase == Phase::kFinished)
      instances_.erase(it);
  }
  for (const SettledChild& c : children)
    on_child_end(c.parent_id, c.step, c.child_id, c.end);
}

void Engine::Core::notify_observers(const detail::JournalBatch& batch) {
  if (options_.observers.empty())
    return;
  const auto& records = *batch.records;
  for (std::size_t i = 0; i < records.size(); ++i) {
    WorkflowEvent ev{records[i], batch.definitions[i]->name, batch.definitions[i]->version};
    for (const Observer& o : options_.observers) {
      try {
        o(ev);
      } catch (const std::exception& ex) {
        spdlog::error("workflow observer failed: {}", ex.what());
      }
    }
  }
}

// ---- effects --------------------------------------------------------------------------------

/// A callback that hands an attempt's outcome to the engine thread. Safe to call from any
/// thread, more than once, and after the engine is gone.
ReplyCallback Engine::Core::outcome_callback(const std::string& id, std::size_t step,
                                             std::uint64_t token) {
  return [weak = weak_from_this(), id, step, token](Result<json> outcome) {
    if (auto core = weak.lock()) {
      Core* self = core.get();
      self->post([self, id, step, token, outcome = std::move(outcome)]() mutable {
        self->on_outcome(id, step, token, std::move(outcome));
      });
    }
  };
}

TimerId Engine::Core::schedule_timeout(const std::string& id, std::size_t step, std::uint64_t token,
                                       milliseconds after) {
  return clock_.schedule(after, [weak = weak_from_this(), id, step, token] {
    if (auto core = weak.lock()) {
      Core* self = core.get();
      self->post([self, id, step, token] { self->on_timeout(id, step, token); });
    }
  });
}

void Engine::Core::issue_attempt(const std::string& id, std::size_t step, std::uint64_t token,
                                 milliseconds timeout,
                                 const std::function<void(ReplyCallback)>& issue) {
  StepState* st = current_attempt(id, step, token);
  if (!st || !st->in_flight)
    return;
  st->timer = schedule_timeout(id, step, token, timeout);
  ReplyCallback done = outcome_callback(id, step, token);
  try {
    issue(done);
  } catch (const std::exception& ex) {
    done(Error::of(codes::kUnavailable, std::string("transport failed: ") + ex.what()));
  }
}

void Engine::Core::execute(detail::SendEffect& e) {
  issue_attempt(e.workflow_id, e.step, e.token, e.command.timeout, [&](ReplyCallback done) {
    transport_.send(std::move(e.command), std::move(done));
  });
}

void Engine::Core::execute(detail::PublishEffect& e) {
  issue_attempt(e.workflow_id, e.step, e.token, e.timeout, [&](ReplyCallback reply) {
    transport_.publish(std::move(e.publication), [reply = std::move(reply)](const Status& s) {
      reply(s ? Result<json>(json()) : Result<json>(s.error()));
    });
  });
}

void Engine::Core::execute(detail::TimerEffect& e) {
  StepState* st = current_attempt(e.workflow_id, e.step, e.token);
  if (!st || !st->waiting)
    return;
  std::weak_ptr<Core> weak = weak_from_this();
  st->timer = clock_.schedule(
      e.delay, [weak, id = std::move(e.workflow_id), step = e.step, token = e.token] {
        if (auto core = weak.lock()) {
          Core* self = core.get();
          self->post([self, id, step, token] { self->on_backoff(id, step, token); });
        }
      });
}

// ---- inbound events (engine thread) ---------------------------------------------------------

void Engine::Core::on_outcome(const std::string& id, std::size_t index, std::uint64_t token,
                              Result<json> outcome) {
  StepState* st = current_attempt(id, index, token);
  if (!st || !st->in_flight)
    return;  // late: the attempt timed out, or the workflow moved on
  Instance* inst = find(id);
  if (st->timer)
    clock_.cancel(st->timer);
  st->timer = 0;
  decider_.handle_outcome(*inst, index, std::move(outcome));
  decider_.advance(*inst);
}

void Engine::Core::on_timeout(const std::string& id, std::size_t index, std::uint64_t token) {
  StepState* st = current_attempt(id, index, token);
  if (!st || !st->in_flight)
    return;
  Instance* inst = find(id);
  st->timer = 0;
  const Step& step = inst->def->steps[index];
  milliseconds limit = st->comp == CompStatus::kRunning ? step.compensation->timeout : step.timeout;
  metrics_.count_timeout();
  decider_.handle_outcome(*inst, index,
                          Error::of(codes::kDeadlineExceeded,
                                    "no reply within " + std::to_string(limit.count()) + " ms"));
  decider_.advance(*inst);
}

void Engine::Core::on_backoff(const std::string& id, std::size_t index, std::uint64_t token) {
  StepState* st = current_attempt(id, index, token);
  if (!st || !st->waiting)
    return;
  st->timer = 0;
  Instance& inst = *find(id);
  decider_.next_attempt(inst, index);
  decider_.advance(inst);
}

// ---- lookups --------------------------------------------------------------------------------

Engine::Core::Instance* Engine::Core::find(const std::string& id) {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : it->second.get();
}

Engine::Core::StepState* Engine::Core::current_attempt(const std::string& id, std::size_t index,
                                                       std::uint64_t token) {
  Instance* inst = find(id);
  if (!inst)
    return nullptr;
  StepState& st = inst->steps[index];
  return st.token == token ? &st : nullptr;
}

Error Engine::Core::running_elsewhere(const std::string& id) {
  // Only with a shared journal: another engine drives it, or it was dropped here and is being
  // taken over. The mediator forwards to the owner; whoever asks again later is answered.
  return Error::of(codes::kUnavailable, "workflow " + id +
                                            " is running but not driven by this mediator (another "
                                            "owns it or is taking it over); try again");
}

Error Engine::Core::not_settled(const std::string& id, WorkflowStatus status, const char* verb) {
  return Error::of(codes::kFailedPrecondition,
                   "workflow " + id + " is " + std::string(to_string(status)) +
                       "; only failed and needs_attention workflows can be " + verb);
}

Error Engine::Core::archived(const std::string& id) {
  return Error::of(codes::kConflict,
                   "workflow " + id + " is archived (finished long ago); it can only be read");
}

Error Engine::Core::not_running(const std::string& id) {
  auto found = journal_.find(id);
  if (found.ok() && found->has_value()) {
    if ((*found)->status == WorkflowStatus::kRunning)
      return running_elsewhere(id);
    if ((*found)->archived)
      return archived(id);
    return Error::of(codes::kFailedPrecondition,
                     "workflow " + id + " is " + std::string(to_string((*found)->status)));
  }
  return Error::of(codes::kNotFound, "no workflow " + id);
}

bool Engine::Core::took_signal_before(const std::string& id, const std::string& signal_id) {
  if (signal_id.empty())
    return false;
  auto history = journal_.history(id);
  if (!history.ok())
    return false;
  const auto& records = history->records;
  return std::any_of(records.begin(), records.end(), [&](const JournalRecord& r) {
    return r.type == events::kSignalReceived && r.data.value("signal_id", "") == signal_id;
  });
}

}  // namespace wonderland::workflow
