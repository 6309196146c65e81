// The durable workflow engine (docs/workflows.md).
//
// A state machine per workflow, driven by events (start, reply, error, timer, cancel, retry) on
// one executor thread; no thread per workflow. Every state change is appended to the journal,
// and its effects (commands, timers, publications, callbacks, observer notifications) happen
// only once the journal reports it durable. Failures run the saga: compensations of completed
// steps in reverse order of completion, then the definition's `on_failure` steps.
//
//   auto engine = Engine::create({}, registry, *journal, transport, clock).value();
//   Result<std::string> id = engine->start({.definition = "purchase", .input = input});
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/workflow/clock.hpp"
#include "wonderland/workflow/definition.hpp"
#include "wonderland/workflow/journal.hpp"
#include "wonderland/workflow/transport.hpp"

namespace wonderland::workflow {

/// A durable workflow event, as handed to observers.
struct WorkflowEvent {
  const JournalRecord& record;
  const std::string& definition;
  int version;
};

/// Runs on the engine thread, after the event is durable and its effects were issued. Must be
/// quick and must not call the engine's blocking functions.
using Observer = std::function<void(const WorkflowEvent&)>;

struct EngineOptions {
  /// Retries of a compensation: every error is retried until this bound; then the workflow
  /// needs attention.
  RetryPolicy compensation_retry{.max_attempts = 50,
                                 .initial_backoff = std::chrono::milliseconds(200),
                                 .max_backoff = std::chrono::milliseconds(60000),
                                 .multiplier = 2.0,
                                 .jitter = 0.2,
                                 .retry_on = {}};
  std::vector<Observer> observers;
  /// Recent latency samples kept per service and action.
  std::size_t latency_samples = 512;
  /// Seed of the backoff jitter; random when unset.
  std::optional<std::uint64_t> seed;
};

struct StartRequest {
  std::string definition;
  int version = 0;                                  ///< 0: the latest registered version.
  nlohmann::json input = nlohmann::json::object();  ///< Must be an object.
  std::string id;  ///< The workflow id (e.g. the order id); a new UUID when empty.
};

/// A signal for a workflow's signal steps (docs/workflows.md, "signal").
struct SignalRequest {
  std::string workflow_id;
  std::string name;       ///< A signal some signal step of the definition waits for.
  std::string signal_id;  ///< Deduplicates: a signal_id already received is ignored. Empty: new.
  nlohmann::json payload = nlohmann::json::object();  ///< Must be an object.
};

/// Rerun of a settled workflow from one of its top-level steps (docs/workflows.md, "Rerun").
struct RerunRequest {
  std::string workflow_id;
  std::string step;  ///< The id of a step of the top-level sequence.
  /// Replaces the step's input (a task's request, a publish step's payload) for this run and
  /// the later ones; must be an object. Absent: the step's input template is rendered again.
  std::optional<nlohmann::json> input;
  std::string requested_by;  ///< Who asked, as the caller knows them; recorded as is.
};

struct LatencyStats {
  std::string service;
  std::string action;
  std::uint64_t count = 0;   ///< Attempts with an outcome (reply, error or timeout).
  std::uint64_t errors = 0;  ///< Of which failed.
  double total_ms = 0;
  std::vector<double> recent_ms;  ///< The latest samples, oldest first.

  /// The q-quantile (0..1) of recent_ms; 0 when empty.
  double quantile(double q) const;
};

struct EngineMetrics {
  std::uint64_t started = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;  ///< Ended failed (after compensation).
  std::uint64_t cancelled = 0;
  std::uint64_t needs_attention = 0;
  std::uint64_t compensated = 0;    ///< Workflows whose compensation phase finished.
  std::uint64_t compensations = 0;  ///< Compensation commands that succeeded.
  std::uint64_t step_attempts = 0;
  std::uint64_t step_retries = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t recovered = 0;         ///< Workflows resumed from the journal at creation.
  std::uint64_t recovery_skipped = 0;  ///< Unfinished workflows whose definition was missing.
  std::uint64_t taken_over = 0;        ///< Workflows claimed from another engine's expired lease.
  std::uint64_t lost = 0;              ///< Workflows dropped because another engine took them over.
  std::int64_t in_flight = 0;          ///< Running workflows (gauge).
  /// Workflows in needs_attention now (gauge): counted from the journal at creation, then up
  /// when a compensation gives up and down when an operator retries one.
  std::int64_t awaiting_attention = 0;
  std::vector<LatencyStats> step_latency;  ///< By service and action.
};

class Engine {
 public:
  /// Creates the engine and resumes every unfinished workflow of the journal: in-flight commands
  /// are sent again with their idempotency keys, pending retries rescheduled. `registry`,
  /// `journal`, `transport` and `clock` must outlive the engine.
  static Result<std::unique_ptr<Engine>> create(EngineOptions options,
                                                const DefinitionRegistry& registry,
                                                Journal& journal, Transport& transport,
                                                Clock& clock);
  /// Stops the engine thread. Workflows stay in the journal as they are, and a new engine on
  /// the same journal resumes them; late replies to this engine are dropped.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  using StartCallback = std::function<void(Result<std::string>)>;
  using StatusCallback = std::function<void(Status)>;

  /// Starts a workflow; `done` gets its id once the start is durable, or an error
  /// (`not_found` definition, `invalid_argument` input, `conflict` id, `unavailable` engine).
  /// Callbacks run on the engine thread and must not block. With a given id, the journal is
  /// first asked, on the calling thread, whether the id is taken.
  void start(StartRequest request, StartCallback done);
  /// Cancels a running workflow: nothing new starts, commands in flight finish, then completed
  /// steps are compensated and the workflow ends `cancelled`. `failed_precondition` when it is
  /// not running, already compensating or past its pivot; `not_found` when unknown; `unavailable`
  /// (retryable) when it runs but another engine of a shared journal drives it.
  void cancel(const std::string& workflow_id, std::string reason, StatusCallback done);
  /// Retries a settled workflow (docs/workflows.md, "Retry"): a `failed` one runs again from the
  /// first step whose effect was undone or that did not succeed, and so does a `needs_attention`
  /// one stopped past its pivot; another `needs_attention` one resumes its compensation.
  /// `failed_precondition` for other statuses (`unavailable` for one running on another engine of a
  /// shared journal). The workflow is read from the journal on the calling thread.
  void retry(const std::string& workflow_id, StatusCallback done);
  /// Reruns a `failed` or `needs_attention` workflow from a top-level step, once
  /// `rerun_requested` is durable: that step and every step after it run again; steps before it
  /// keep their outputs unless their effect was undone (then they run again too, as for a
  /// retry); a stuck compensation is abandoned. `invalid_argument` for an unknown or nested
  /// step, an input that is not an object or one for a step that takes none;
  /// `failed_precondition` for other statuses; `not_found`, `unavailable` as for retry.
  void rerun(RerunRequest request, StatusCallback done);
  /// Records a signal for a running workflow, once it is durable: a signal step waiting for it
  /// takes it now, otherwise it is kept until a signal step of that name starts. A signal_id
  /// already received is ignored (ok). `invalid_argument` when the payload is not an object or
  /// the definition has no signal step of that name; `conflict` when the workflow ended (or
  /// is failing or being cancelled); `not_found` when unknown; `unavailable` (retryable) when
  /// another engine of a shared journal drives it.
  void signal(SignalRequest request, StatusCallback done);
  /// Pauses a running workflow once `pause_requested` is durable: it starts no new step until
  /// resumed; steps in flight (commands, retries, wait and signal steps, whose timers keep
  /// counting) finish and are recorded, and a workflow whose last step finishes completes. A
  /// cancel still compensates it. Pausing a paused workflow is ok and records nothing.
  /// `failed_precondition` when it ended or is failing, being cancelled or compensated;
  /// `not_found`, `unavailable` as for cancel.
  void pause(const std::string& workflow_id, StatusCallback done);
  /// Resumes a paused workflow (`resume_requested`): the steps it held start now. Resuming a
  /// workflow that is not paused is ok and records nothing. Errors as for pause.
  void resume(const std::string& workflow_id, StatusCallback done);

  /// Blocking forms: wait for the callback. Must not be called on the engine thread (e.g. from
  /// an observer); then they return `failed_precondition`.
  Result<std::string> start(StartRequest request);
  Status cancel(const std::string& workflow_id, std::string reason);
  Status retry(const std::string& workflow_id);
  Status rerun(RerunRequest request);
  Status signal(SignalRequest request);
  Status pause(const std::string& workflow_id);
  Status resume(const std::string& workflow_id);

  /// Ownership upkeep for a journal shared by several engines (pg_journal.hpp); a no-op cost
  /// for a journal of one engine. Renews this engine's leases, drops the workflows it lost
  /// (without issuing anything more for them), then claims the workflows whose leases expired
  /// and resumes them as after a restart: commands in flight are sent again with their keys.
  /// Blocking: call it every lease / 3 from a thread of the caller's, never the engine's.
  /// Returns renew()'s or the claim's error; the next call tries again.
  Status maintain_ownership();

  /// Counters, gauge and latency samples. Thread-safe.
  EngineMetrics metrics() const;
  /// False once the journal failed: the engine then refuses work; restart it to recover.
  bool healthy() const;

  /// Monitoring queries (durable data, thread-safe).
  Result<WorkflowPage> list(const WorkflowQuery& query) const;
  /// The archived workflows (Journal::list_archived()).
  Result<WorkflowPage> list_archived(const WorkflowQuery& query) const;
  /// How many workflows run per definition version (the journal's count; thread-safe).
  Result<std::vector<VersionCount>> running_by_version() const;
  Result<std::optional<WorkflowSummary>> find(const std::string& workflow_id) const;
  Result<std::vector<JournalRecord>> timeline(const std::string& workflow_id) const;
  /// The summary and the timeline in one read; `not_found` when the workflow is unknown.
  Result<WorkflowHistory> history(const std::string& workflow_id) const;

  class Core;

 private:
  explicit Engine(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace wonderland::workflow
