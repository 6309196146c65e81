// The public face of the engine: Engine's functions check what they can on the calling thread
// and hand the rest to the core (engine_core.hpp) on the engine thread.
//
// The files of the workflow component, and where new features go:
//   engine_core.*          wiring, requests, journal batching and effects, inbound events
//                          (a signal for a wait step or a sub-workflow's end: a new on_* event)
//   executor.*             the engine thread and its task queue
//   unwritten_records.*    the batch of journal records not yet written, with the effects that
//                          wait for it (a new kind of effect: a new Effect alternative)
//   decisions.*            what a workflow does next (new step kinds: wait, sub-workflow, map)
//   compensation.cpp       the saga: compensations of completed steps, latest first
//   recovery.*             rebuilding and resuming workflows from the journal
//   engine_metrics.*       counters, gauges and latency samples
//   instance.*             the state of one workflow and the fold of records that changes it
//   definition*.cpp        definitions: model and registry, parser, field readers and checks
//   journal.cpp            the Journal contract's helpers and the in-memory journal
//   sqlite_journal*.cpp    the SQLite journal: writer, queries, schema (a PostgreSQL journal
//                          is a new pg_journal* beside it, implementing Journal)
#include "wonderland/workflow/engine.hpp"

#include <algorithm>
#include <future>

#include "engine_core.hpp"

namespace wonderland::workflow {
namespace {

bool valid_workflow_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(EngineOptions options,
                                               const DefinitionRegistry& registry, Journal& journal,
                                               Transport& transport, Clock& clock) {
  if (options.compensation_retry.max_attempts < 1) {
    return Error::of(codes::kInvalidArgument, "compensation_retry.max_attempts must be >= 1");
  }
  auto core = std::make_shared<Core>(std::move(options), registry, journal, transport, clock);
  if (auto st = core->recover(); !st)
    return st.error();
  core->start_thread();
  return std::unique_ptr<Engine>(new Engine(std::move(core)));
}

Engine::Engine(std::shared_ptr<Core> core) : core_(std::move(core)) {}

Engine::~Engine() {
  core_->shutdown();
}

void Engine::start(StartRequest request, StartCallback done) {
  if (!request.id.empty()) {
    if (!valid_workflow_id(request.id)) {
      return done(Error::of(codes::kInvalidArgument,
                            "workflow id must be 1-128 letters, digits, '-', '_' or '.'"));
    }
    auto existing = core_->journal().find(request.id);
    if (!existing)
      return done(existing.error());
    if (existing->has_value()) {
      return done(Error::of(codes::kConflict, "workflow " + request.id + " already exists"));
    }
  }
  Core* core = core_.get();
  core->post([core, request = std::move(request), done = std::move(done)]() mutable {
    core->do_start(std::move(request), std::move(done));
  });
}

void Engine::cancel(const std::string& workflow_id, std::string reason, StatusCallback done) {
  Core* core = core_.get();
  core->post([core, workflow_id, reason = std::move(reason), done = std::move(done)]() mutable {
    core->do_cancel(workflow_id, std::move(reason), std::move(done));
  });
}

void Engine::retry(const std::string& workflow_id, StatusCallback done) {
  Result<WorkflowHistory> loaded = core_->journal().history(workflow_id);
  Core* core = core_.get();
  core->post([core, workflow_id, loaded = std::move(loaded), done = std::move(done)]() mutable {
    core->do_retry(workflow_id, std::move(loaded), std::move(done));
  });
}

void Engine::rerun(RerunRequest request, StatusCallback done) {
  if (request.input && !request.input->is_object())
    return done(Error::of(codes::kInvalidArgument, "a step's input must be a JSON object"));
  Result<WorkflowHistory> loaded = core_->journal().history(request.workflow_id);
  Core* core = core_.get();
  core->post([core, request = std::move(request), loaded = std::move(loaded),
              done = std::move(done)]() mutable {
    core->do_rerun(std::move(request), std::move(loaded), std::move(done));
  });
}

void Engine::pause(const std::string& workflow_id, StatusCallback done) {
  Core* core = core_.get();
  core->post([core, workflow_id, done = std::move(done)]() mutable {
    core->do_pause(workflow_id, true, std::move(done));
  });
}

void Engine::resume(const std::string& workflow_id, StatusCallback done) {
  Core* core = core_.get();
  core->post([core, workflow_id, done = std::move(done)]() mutable {
    core->do_pause(workflow_id, false, std::move(done));
  });
}

void Engine::signal(SignalRequest request, StatusCallback done) {
  if (!request.payload.is_object())
    return done(Error::of(codes::kInvalidArgument, "a signal's payload must be a JSON object"));
  Core* core = core_.get();
  core->post([core, request = std::move(request), done = std::move(done)]() mutable {
    core->do_signal(std::move(request), std::move(done));
  });
}

namespace {
/// Runs `submit(callback)` and waits for the callback's result.
template <class T, class Submit>
Result<T> wait_for(bool on_engine_thread, Submit&& submit) {
  if (on_engine_thread) {
    return Error::of(codes::kFailedPrecondition,
                     "blocking engine calls are not allowed on the engine thread");
  }
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  submit([&promise](Result<T> r) { promise.set_value(std::move(r)); });
  return future.get();
}
}  // namespace

Result<std::string> Engine::start(StartRequest request) {
  return wait_for<std::string>(core_->on_engine_thread(),
                               [&](auto done) { start(std::move(request), std::move(done)); });
}

Status Engine::cancel(const std::string& workflow_id, std::string reason) {
  return wait_for<Unit>(core_->on_engine_thread(), [&](auto done) {
    cancel(workflow_id, std::move(reason), std::move(done));
  });
}

Status Engine::retry(const std::string& workflow_id) {
  return wait_for<Unit>(core_->on_engine_thread(),
                        [&](auto done) { retry(workflow_id, std::move(done)); });
}

Status Engine::rerun(RerunRequest request) {
  return wait_for<Unit>(core_->on_engine_thread(),
                        [&](auto done) { rerun(std::move(request), std::move(done)); });
}

Status Engine::pause(const std::string& workflow_id) {
  return wait_for<Unit>(core_->on_engine_thread(),
                        [&](auto done) { pause(workflow_id, std::move(done)); });
}

Status Engine::resume(const std::string& workflow_id) {
  return wait_for<Unit>(core_->on_engine_thread(),
                        [&](auto done) { resume(workflow_id, std::move(done)); });
}

Status Engine::signal(SignalRequest request) {
  return wait_for<Unit>(core_->on_engine_thread(),
                        [&](auto done) { signal(std::move(request), std::move(done)); });
}

EngineMetrics Engine::metrics() const {
  return core_->metrics();
}

bool Engine::healthy() const {
  return core_->healthy();
}

Result<WorkflowPage> Engine::list(const WorkflowQuery& query) const {
  return core_->journal().list(query);
}

Result<WorkflowPage> Engine::list_archived(const WorkflowQuery& query) const {
  return core_->journal().list_archived(query);
}

Result<std::vector<VersionCount>> Engine::running_by_version() const {
  return core_->journal().running_by_version();
}

Result<std::optional<WorkflowSummary>> Engine::find(const std::string& workflow_id) const {
  return core_->journal().find(workflow_id);
}

Result<WorkflowHistory> Engine::history(const std::string& workflow_id) const {
  return core_->journal().history(workflow_id);
}

Result<std::vector<JournalRecord>> Engine::timeline(const std::string& workflow_id) const {
  auto h = core_->journal().history(workflow_id);
  if (!h)
    return h.error();
  return std::move(h->records);
}

}  // namespace wonderland::workflow
