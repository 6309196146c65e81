// The engine core: owns the running workflows and wires the parts together. Requests (start,
// cancel, retry) and inbound events (replies, timeouts, backoff timers) arrive as tasks on the
// Executor; the Decider turns them into records in UnwrittenRecords; the core flushes that batch
// to the journal and, once it is durable, carries out its effects through the Transport and the
// Clock and notifies observers. Recovery and MetricsRecorder are its other parts.
//
// A new inbound event (a signal for a wait step, the end of a child workflow) is a new on_*
// handler here that finds the instance and hands it to the Decider; a new request is a new do_*.
// Child workflows of workflow and map steps run on this engine like any other (children of
// children too); the core starts, cancels and undoes them (ChildEffect) and reports their ends
// to their parents.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "decisions.hpp"
#include "engine_metrics.hpp"
#include "executor.hpp"
#include "instance.hpp"
#include "recovery.hpp"
#include "unwritten_records.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow {

class Engine::Core : public std::enable_shared_from_this<Engine::Core> {
 public:
  Core(EngineOptions options, const DefinitionRegistry& registry, Journal& journal,
       Transport& transport, Clock& clock);

  Journal& journal() { return journal_; }
  bool healthy() const { return healthy_.load(); }
  bool on_engine_thread() const { return executor_.on_thread(); }
  EngineMetrics metrics() const { return metrics_.snapshot(); }

  /// Loads the unfinished workflows of the journal (before the thread starts).
  Status recover();
  /// Starts the engine thread; its first task resumes the recovered workflows.
  void start_thread();
  /// Stops the engine thread and cancels the timers of the workflows left.
  void shutdown();
  void post(std::function<void()> task) { executor_.post(std::move(task)); }

  // Requests, on the engine thread.
  void do_start(StartRequest req, StartCallback done);
  void do_cancel(const std::string& id, std::string reason, StatusCallback done);
  void do_retry(const std::string& id, Result<WorkflowHistory> loaded, StatusCallback done);
  void do_signal(SignalRequest req, StatusCallback done);
  void do_rerun(RerunRequest req, Result<WorkflowHistory> loaded, StatusCallback done);
  void do_pause(const std::string& id, bool pause, StatusCallback done);

  // Ownership of a shared journal (ownership.cpp), on the engine thread.
  /// Drops the workflows the journal lost, then hands what they had unwritten to the journal.
  void drop_lost_and_flush();
  /// Resumes the workflows claimed from expired leases.
  void adopt(const std::vector<WorkflowHistory>& claimed);

 private:
  using Instance = detail::Instance;
  using StepState = detail::StepState;

  void resume_all();

  // Journal batching: hand the unwritten records to the journal, act once they are durable.
  /// The executor's checkpoint: flushes a full batch after a task, and everything unwritten once
  /// the tasks ran (on this thread, through Journal::write_now, when nothing else waits).
  void checkpoint(bool drained);
  /// Hands the unwritten records to the journal.
  void flush();
  void write_here();
  void hand_to_journal(std::shared_ptr<detail::JournalBatch> batch);
  void on_durable(detail::JournalBatch& batch, const Status& st);
  void notify_observers(const detail::JournalBatch& batch);
  /// Drops the workflows the journal reports lost.
  void drop_lost();
  /// Removes the records of dropped workflows from a durable batch (they were not written), so
  /// that neither metrics nor observers see them.
  void forget_records_of_dropped(detail::JournalBatch& batch);

  // Effects, once durable.
  void execute(detail::SendEffect& e);
  void execute(detail::PublishEffect& e);
  void execute(detail::TimerEffect& e);
  void execute(detail::CallEffect& e) { e.fn(ok_status()); }
  void execute(detail::ChildEffect& e);

  // Child workflows (engine_children.cpp), on the engine thread.
  /// Records the `started` of a new workflow (with `extra` fields) and advances it.
  Instance& begin(const std::string& id, const std::shared_ptr<const Definition>& def,
                  nlohmann::json input, detail::JsonObject extra);
  void start_child(detail::ChildEffect& e);
  void cancel_child(const detail::ChildEffect& e);
  void undo_child(const detail::ChildEffect& e);
  /// A child's history when it belongs to the parent of `e`; nullopt (logged) otherwise, or
  /// when the journal cannot say (the step waits: a restart asks again).
  std::optional<WorkflowHistory> child_history(const detail::ChildEffect& e, bool& absent);
  /// Hands the end of a child (its settling record) to its parent's step.
  void on_child_end(const std::string& parent_id, const std::string& step,
                    const std::string& child_id, const detail::ChildEnd& end);
  /// The children that settled in a durable batch, reported once it is processed.
  struct SettledChild {
    std::string parent_id;
    std::string step;
    std::string child_id;
    detail::ChildEnd end;
  };
  std::vector<SettledChild> settled_children(const detail::JournalBatch& batch);
  /// Starts the timeout of attempt `token` of `step`, if it is still in flight, and issues it
  /// with the callback that takes its outcome; a transport that throws fails the attempt.
  void issue_attempt(const std::string& id, std::size_t step, std::uint64_t token,
                     std::chrono::milliseconds timeout,
                     const std::function<void(ReplyCallback)>& issue);
  ReplyCallback outcome_callback(const std::string& id, std::size_t step, std::uint64_t token);
  TimerId schedule_timeout(const std::string& id, std::size_t step, std::uint64_t token,
                           std::chrono::milliseconds after);

  // Inbound events, on the engine thread.
  void on_outcome(const std::string& id, std::size_t index, std::uint64_t token,
                  Result<nlohmann::json> outcome);
  void on_timeout(const std::string& id, std::size_t index, std::uint64_t token);
  void on_backoff(const std::string& id, std::size_t index, std::uint64_t token);

  Instance* find(const std::string& id);
  /// The state of step `index` while `token` is still its current attempt; nullptr once it moved
  /// on (or the workflow is gone).
  StepState* current_attempt(const std::string& id, std::size_t index, std::uint64_t token);
  Error not_running(const std::string& id);
  /// `conflict`: an archived workflow is read-only.
  static Error archived(const std::string& id);
  /// Whether the workflow `id`, which has ended, took the signal `signal_id` before (a sender's
  /// resend after the end, acknowledged again rather than refused).
  bool took_signal_before(const std::string& id, const std::string& signal_id);
  /// A settled workflow to act on: `inst` is the one in memory, or one rebuilt from the journal
  /// that `rebuilt` owns until `adopt` makes it one of this engine's; one only looked at (a
  /// refused request) goes with `rebuilt`, and the engine's instances are left as they were.
  struct SettledInstance {
    Instance* inst = nullptr;
    std::unique_ptr<Instance> rebuilt;
  };
  Result<SettledInstance> settled(const std::string& id, Result<WorkflowHistory>& loaded);
  void adopt(SettledInstance& found);
  /// `failed_precondition`: a workflow with `status` cannot be `verb`.
  static Error not_settled(const std::string& id, WorkflowStatus status, const char* verb);
  /// A running workflow that this engine does not drive (a shared journal): retryable.
  static Error running_elsewhere(const std::string& id);

  EngineOptions options_;
  const DefinitionRegistry& registry_;
  Journal& journal_;
  Transport& transport_;
  Clock& clock_;

  std::atomic<bool> healthy_{true};
  bool dropped_any_ = false;  ///< Engine thread: whether drop_lost() ever dropped a workflow.
  detail::MetricsRecorder metrics_;

  // Engine thread only.
  std::unordered_map<std::string, std::unique_ptr<Instance>> instances_;
  std::vector<std::string> resume_order_;
  detail::UnwrittenRecords unwritten_;
  detail::Decider decider_;
  detail::Recovery recovery_;

  std::size_t appending_ = 0;  ///< Batches handed to append() whose on_durable has not run.
  detail::Executor executor_;  ///< Last: its thread stops first.
};

}  // namespace wonderland::workflow
