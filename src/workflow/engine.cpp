#include "wonderland/workflow/engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <variant>

#include "instance.hpp"
#include "wonderland/common/ids.hpp"

namespace wonderland::workflow {

using detail::CompStatus;
using detail::Instance;
using detail::InstanceScope;
using detail::Phase;
using detail::StepState;
using detail::StepStatus;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

/// Records per journal batch before the engine flushes mid-drain.
constexpr std::size_t kFlushRecords = 4096;

enum class Flow { kDone, kRunning, kFailed, kBlocked };

struct SendEffect {
  std::string workflow_id;
  std::size_t step;
  std::uint64_t token;
  Command command;
};
struct PublishEffect {
  std::string workflow_id;
  std::size_t step;
  std::uint64_t token;
  milliseconds timeout;
  Publication publication;
};
struct TimerEffect {
  std::string workflow_id;
  std::size_t step;
  std::uint64_t token;
  milliseconds delay;
};
/// A caller's callback; gets the durability of the batch it rode on.
struct CallEffect {
  std::function<void(const Status&)> fn;
};
using Effect = std::variant<SendEffect, PublishEffect, TimerEffect, CallEffect>;

struct Batch {
  std::shared_ptr<std::vector<JournalRecord>> records =
      std::make_shared<std::vector<JournalRecord>>();
  std::vector<const Definition*> definitions;  ///< Parallel to records.
  std::vector<Effect> effects;
  std::vector<std::string> settled;  ///< Workflows that settled in this batch.

  bool empty() const { return records->empty() && effects.empty(); }
};

/// Builds a JSON object member by member, moving the values in (initializer lists copy them).
class Obj {
 public:
  Obj& add(const char* key, json value) {
    members_.emplace(key, std::move(value));
    return *this;
  }
  json done() { return json(std::move(members_)); }

 private:
  json::object_t members_;
};

/// format_iso8601, reusing the formatted second of the previous call: the engine stamps many
/// records per second.
class IsoStamper {
 public:
  std::string operator()(SystemTime t) {
    const std::int64_t ms = std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
    std::int64_t sec = ms / 1000;
    std::int64_t milli = ms % 1000;
    if (milli < 0) {
      milli += 1000;
      --sec;
    }
    if (sec != second_ || prefix_.size() != 24) {
      prefix_ = format_iso8601(SystemTime(std::chrono::seconds(sec)));
      second_ = sec;
    }
    std::string out = prefix_;
    if (out.size() == 24) {  // YYYY-MM-DDTHH:MM:SS.mmmZ
      out[20] = static_cast<char>('0' + milli / 100);
      out[21] = static_cast<char>('0' + milli / 10 % 10);
      out[22] = static_cast<char>('0' + milli % 10);
    }
    return out;
  }

 private:
  std::int64_t second_ = std::numeric_limits<std::int64_t>::min();
  std::string prefix_;
};

bool valid_workflow_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::string describe(const Step& step) {
  if (step.kind == StepKind::kPublish)
    return "step '" + step.id + "' (publish " + step.topic + ")";
  if (step.kind == StepKind::kTask)
    return "step '" + step.id + "' (" + step.action + ")";
  return "step '" + step.id + "'";
}

std::string failure_reason(const Step& step, const Error& e, int attempts) {
  std::string r = describe(step) + " failed";
  if (attempts > 1)
    r += " after " + std::to_string(attempts) + " attempts";
  return r + ": " + e.code + ": " + e.message;
}

struct LatencyRing {
  LatencyStats stats;
  std::size_t next = 0;
};

}  // namespace

class Engine::Core : public std::enable_shared_from_this<Engine::Core> {
 public:
  Core(EngineOptions options, const DefinitionRegistry& registry, Journal& journal,
       Transport& transport, Clock& clock)
      : options_(std::move(options)),
        registry_(registry),
        journal_(journal),
        transport_(transport),
        clock_(clock),
        rng_(options_.seed ? *options_.seed : std::random_device{}()) {}

  Journal& journal() { return journal_; }
  bool healthy() const { return healthy_.load(); }
  bool on_engine_thread() const { return std::this_thread::get_id() == thread_id_.load(); }

  // ---- lifecycle --------------------------------------------------------------------------

  Status recover() {
    auto histories = journal_.load_unfinished();
    if (!histories)
      return histories.error();
    std::uint64_t recovered = 0;
    std::uint64_t skipped = 0;
    for (const WorkflowHistory& h : *histories) {
      auto inst = rebuild(h);
      if (!inst) {
        spdlog::error("workflow {} not resumed: {}", h.summary.id, inst.error().message);
        ++skipped;
        continue;
      }
      resume_order_.push_back(h.summary.id);
      instances_.emplace(h.summary.id, std::move(*inst));
      ++recovered;
    }
    std::int64_t awaiting = 0;
    WorkflowQuery stuck{.status = WorkflowStatus::kNeedsAttention, .limit = 1000};
    for (;;) {
      auto page = journal_.list(stuck);
      if (!page)
        return page.error();
      awaiting += static_cast<std::int64_t>(page->items.size());
      if (page->next_page_token.empty())
        break;
      stuck.page_token = page->next_page_token;
    }
    std::lock_guard lock(metrics_mutex_);
    metrics_.awaiting_attention = awaiting;
    metrics_.recovered += recovered;
    metrics_.recovery_skipped += skipped;
    metrics_.in_flight += static_cast<std::int64_t>(recovered);
    return ok_status();
  }

  void start_thread() {
    if (!resume_order_.empty())
      post([this] { resume_all(); });
    thread_ = std::thread([this] {
      thread_id_.store(std::this_thread::get_id());
      loop();
    });
  }

  void shutdown() {
    {
      std::lock_guard lock(queue_mutex_);
      stop_ = true;
    }
    queue_cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
    {
      std::lock_guard lock(queue_mutex_);
      queue_.clear();
    }
    // The engine thread is gone: its state is ours now. Pending timers would only be dropped.
    for (auto& [id, inst] : instances_) {
      for (StepState& st : inst->steps) {
        if (st.timer)
          clock_.cancel(st.timer);
      }
    }
  }

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(queue_mutex_);
      if (stop_)
        return;
      queue_.push_back(std::move(task));
    }
    queue_cv_.notify_one();
  }

  // ---- requests (engine thread) -----------------------------------------------------------

  void do_start(StartRequest req, StartCallback done) {
    auto refuse = [&](Error e) { done(std::move(e)); };
    if (!healthy())
      return refuse(Error::of(codes::kUnavailable, "workflow engine is stopped"));
    auto def = req.version > 0 ? registry_.find(req.definition, req.version)
                               : registry_.latest(req.definition);
    if (!def) {
      return refuse(Error::of(codes::kNotFound,
                              "no workflow definition " + req.definition +
                                  (req.version > 0 ? " v" + std::to_string(req.version) : "")));
    }
    if (!req.input.is_object()) {
      return refuse(Error::of(codes::kInvalidArgument, "workflow input must be a JSON object"));
    }
    std::string id = req.id.empty() ? new_uuid() : std::move(req.id);
    if (instances_.count(id)) {
      return refuse(Error::of(codes::kConflict, "workflow " + id + " already exists"));
    }
    auto owned = std::make_unique<Instance>();
    Instance& inst = *owned;
    inst.id = id;
    inst.def = def;
    instances_.emplace(id, std::move(owned));
    record(inst, events::kStarted, nullptr, 0,
           Obj()
               .add("definition", def->name)
               .add("version", def->version)
               .add("digest", def->digest)
               .add("input", std::move(req.input))
               .add("run", 0)
               .done(),
           WorkflowStatus::kRunning);
    advance(inst);
    call_after_commit([done = std::move(done), id](const Status& st) {
      if (st) {
        done(id);
      } else {
        done(st.error());
      }
    });
  }

  void do_cancel(const std::string& id, std::string reason, StatusCallback done) {
    if (!healthy())
      return done(Error::of(codes::kUnavailable, "workflow engine is stopped"));
    Instance* inst = find(id);
    if (!inst)
      return done(not_running(id));
    if (inst->phase != Phase::kRunning) {
      return done(Error::of(codes::kFailedPrecondition,
                            "workflow " + id + " is already being compensated"));
    }
    if (!inst->cancelled) {
      if (inst->stopping) {
        return done(Error::of(codes::kFailedPrecondition,
                              "workflow " + id + " is failing and will be compensated"));
      }
      record(*inst, events::kCancelRequested, nullptr, 0, json{{"reason", std::move(reason)}});
      advance(*inst);
    }
    call_after_commit([done = std::move(done)](const Status& st) { done(st); });
  }

  void do_retry(const std::string& id, Result<WorkflowHistory> loaded, StatusCallback done) {
    if (!healthy())
      return done(Error::of(codes::kUnavailable, "workflow engine is stopped"));
    Instance* inst = find(id);
    const bool from_journal = !inst;
    if (!inst) {
      if (!loaded)
        return done(loaded.error());
      if (loaded->summary.status == WorkflowStatus::kRunning) {
        return done(Error::of(codes::kFailedPrecondition, "workflow " + id + " is running"));
      }
      auto rebuilt = rebuild(*loaded);
      if (!rebuilt)
        return done(rebuilt.error());
      inst = rebuilt->get();
      instances_.emplace(id, std::move(*rebuilt));
    }
    if (inst->status == WorkflowStatus::kFailed) {
      record(*inst, events::kRetryRequested, nullptr, 0,
             json{{"mode", "restart"}, {"run", inst->run + 1}}, WorkflowStatus::kRunning);
    } else if (inst->status == WorkflowStatus::kNeedsAttention) {
      record(*inst, events::kRetryRequested, nullptr, 0,
             json{{"mode", "compensation"}, {"run", inst->run}}, WorkflowStatus::kRunning);
    } else {
      Error e = Error::of(codes::kFailedPrecondition,
                          "workflow " + id + " is " + std::string(to_string(inst->status)) +
                              "; only failed and needs_attention workflows can be retried");
      if (from_journal)
        instances_.erase(id);  // loaded only to look
      return done(std::move(e));
    }
    advance(*inst);
    call_after_commit([done = std::move(done)](const Status& st) { done(st); });
  }

  // ---- monitoring --------------------------------------------------------------------------

  EngineMetrics metrics() const {
    std::lock_guard lock(metrics_mutex_);
    EngineMetrics m = metrics_;
    for (const auto& [service, actions] : latency_) {
      for (const auto& [action, ring] : actions) {
        LatencyStats s = ring.stats;
        // Oldest first: once the ring is full, its next slot holds the oldest sample.
        if (!s.recent_ms.empty()) {
          std::rotate(
              s.recent_ms.begin(),
              s.recent_ms.begin() + static_cast<std::ptrdiff_t>(ring.next % s.recent_ms.size()),
              s.recent_ms.end());
        }
        m.step_latency.push_back(std::move(s));
      }
    }
    return m;
  }

 private:
  // ---- executor ----------------------------------------------------------------------------

  void loop() {
    std::vector<std::function<void()>> tasks;
    for (;;) {
      {
        std::unique_lock lock(queue_mutex_);
        queue_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_)
          return;
        tasks.swap(queue_);
      }
      for (auto& task : tasks) {
        try {
          task();
        } catch (const std::exception& ex) {  // a throwing callback must not stop the engine
          spdlog::error("workflow engine: {}", ex.what());
        }
        if (outbox_.records->size() >= kFlushRecords)
          flush();
      }
      tasks.clear();
      flush();
    }
  }

  /// Hands the outbox to the journal; its effects run once it is durable.
  void flush() {
    if (outbox_.empty())
      return;
    auto batch = std::make_shared<Batch>(std::move(outbox_));
    outbox_ = Batch{};
    std::weak_ptr<Core> weak = weak_from_this();
    RecordBatch records = batch->records;
    journal_.append(std::move(records), [weak, batch = std::move(batch)](Status st) mutable {
      // The batch moves on to the engine thread, which frees it.
      if (auto core = weak.lock()) {
        Core* self = core.get();
        self->post(
            [self, batch = std::move(batch), st = std::move(st)] { self->on_durable(*batch, st); });
      }
    });
  }

  void on_durable(Batch& batch, const Status& st) {
    if (!st) {
      if (healthy_.exchange(false)) {
        spdlog::critical("workflow journal failed, the engine stops: {}", st.error().message);
      }
      instances_.clear();
      for (Effect& e : batch.effects) {
        if (auto* call = std::get_if<CallEffect>(&e))
          call->fn(st);
      }
      return;
    }
    for (Effect& e : batch.effects)
      std::visit([&](auto& eff) { execute(eff); }, e);
    count(batch);
    if (!options_.observers.empty()) {
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
    for (const std::string& id : batch.settled) {
      auto it = instances_.find(id);
      if (it != instances_.end() && it->second->phase == Phase::kFinished)
        instances_.erase(it);
    }
  }

  /// A callback that hands an attempt's outcome to the engine thread. Safe to call from any
  /// thread, more than once, and after the engine is gone.
  ReplyCallback outcome_callback(const std::string& id, std::size_t step, std::uint64_t token) {
    return [weak = weak_from_this(), id, step, token](Result<json> outcome) {
      if (auto core = weak.lock()) {
        Core* self = core.get();
        self->post([self, id, step, token, outcome = std::move(outcome)]() mutable {
          self->on_outcome(id, step, token, std::move(outcome));
        });
      }
    };
  }

  TimerId schedule_timeout(const std::string& id, std::size_t step, std::uint64_t token,
                           milliseconds after) {
    return clock_.schedule(after, [weak = weak_from_this(), id, step, token] {
      if (auto core = weak.lock()) {
        Core* self = core.get();
        self->post([self, id, step, token] { self->on_timeout(id, step, token); });
      }
    });
  }

  /// The state of `step` while `token` is still its current attempt; nullptr once it moved on.
  StepState* current_step(const std::string& id, std::size_t step, std::uint64_t token) {
    Instance* inst = find(id);
    if (!inst)
      return nullptr;
    StepState& st = inst->steps[step];
    return st.token == token ? &st : nullptr;
  }

  void execute(SendEffect& e) {
    StepState* current = current_step(e.workflow_id, e.step, e.token);
    if (!current || !current->in_flight)
      return;
    StepState& st = *current;
    st.timer = schedule_timeout(e.workflow_id, e.step, e.token, e.command.timeout);
    ReplyCallback done = outcome_callback(e.workflow_id, e.step, e.token);
    try {
      transport_.send(std::move(e.command), done);
    } catch (const std::exception& ex) {
      done(Error::of(codes::kUnavailable, std::string("transport failed: ") + ex.what()));
    }
  }

  void execute(PublishEffect& e) {
    StepState* current = current_step(e.workflow_id, e.step, e.token);
    if (!current || !current->in_flight)
      return;
    StepState& st = *current;
    st.timer = schedule_timeout(e.workflow_id, e.step, e.token, e.timeout);
    PublishCallback done = [reply = outcome_callback(e.workflow_id, e.step, e.token)](Status st2) {
      reply(st2 ? Result<json>(json()) : Result<json>(st2.error()));
    };
    try {
      transport_.publish(std::move(e.publication), done);
    } catch (const std::exception& ex) {
      done(Error::of(codes::kUnavailable, std::string("transport failed: ") + ex.what()));
    }
  }

  void execute(TimerEffect& e) {
    StepState* current = current_step(e.workflow_id, e.step, e.token);
    if (!current || !current->waiting)
      return;
    StepState& st = *current;
    std::weak_ptr<Core> weak = weak_from_this();
    st.timer = clock_.schedule(
        e.delay, [weak, id = std::move(e.workflow_id), step = e.step, token = e.token] {
          if (auto core = weak.lock()) {
            Core* self = core.get();
            self->post([self, id, step, token] { self->on_backoff(id, step, token); });
          }
        });
  }

  void execute(CallEffect& e) { e.fn(ok_status()); }

  void call_after_commit(std::function<void(const Status&)> fn) {
    outbox_.effects.push_back(CallEffect{std::move(fn)});
  }

  // ---- inbound events (engine thread) -------------------------------------------------------

  /// The attempt `token` of step `index` is still the one in flight.
  StepState* current(Instance* inst, std::size_t index, std::uint64_t token) {
    if (!inst)
      return nullptr;
    StepState& st = inst->steps[index];
    return st.token == token && st.in_flight ? &st : nullptr;
  }

  void on_outcome(const std::string& id, std::size_t index, std::uint64_t token,
                  Result<json> outcome) {
    Instance* inst = find(id);
    StepState* st = current(inst, index, token);
    if (!st)
      return;  // late: the attempt timed out, or the workflow moved on
    if (st->timer)
      clock_.cancel(st->timer);
    st->timer = 0;
    handle_outcome(*inst, index, std::move(outcome));
    advance(*inst);
  }

  void on_timeout(const std::string& id, std::size_t index, std::uint64_t token) {
    Instance* inst = find(id);
    StepState* st = current(inst, index, token);
    if (!st)
      return;
    st->timer = 0;
    const Step& step = inst->def->steps[index];
    milliseconds limit =
        st->comp == CompStatus::kRunning ? step.compensation->timeout : step.timeout;
    {
      std::lock_guard lock(metrics_mutex_);
      ++metrics_.timeouts;
    }
    handle_outcome(*inst, index,
                   Error::of(codes::kDeadlineExceeded,
                             "no reply within " + std::to_string(limit.count()) + " ms"));
    advance(*inst);
  }

  void on_backoff(const std::string& id, std::size_t index, std::uint64_t token) {
    Instance* inst = find(id);
    if (!inst)
      return;
    StepState& st = inst->steps[index];
    if (st.token != token || !st.waiting)
      return;
    st.timer = 0;
    const Step& step = inst->def->steps[index];
    if (st.comp == CompStatus::kRunning) {
      start_compensation_attempt(*inst, step, st.comp_attempt + 1);
    } else {
      start_attempt(*inst, step, st.attempt + 1);
    }
    advance(*inst);
  }

  void handle_outcome(Instance& inst, std::size_t index, Result<json> outcome) {
    const Step& step = inst.def->steps[index];
    StepState& st = inst.steps[index];
    const bool compensation = st.comp == CompStatus::kRunning;
    const std::int64_t now = detail::to_ms(clock_.now());
    const std::int64_t duration = std::max<std::int64_t>(0, now - st.started_ms);
    if (step.kind == StepKind::kTask) {
      sample(compensation ? step.compensation->service : step.service,
             compensation ? step.compensation->action : step.action, duration, outcome.ok());
    }
    const int attempt = compensation ? st.comp_attempt : st.attempt;
    if (outcome.ok()) {
      record(inst, compensation ? events::kCompensationSucceeded : events::kStepSucceeded, &step,
             attempt,
             Obj().add("output", std::move(outcome.value())).add("duration_ms", duration).done());
      return;
    }
    const Error& err = outcome.error();
    const RetryPolicy& policy = compensation ? options_.compensation_retry : step.retry;
    const bool retry = attempt < policy.max_attempts &&
                       (compensation || (!inst.stopping && policy.should_retry(err)));
    if (retry) {
      milliseconds delay = jittered(policy.backoff(attempt), policy.jitter);
      record(inst, compensation ? events::kCompensationAttemptFailed : events::kStepAttemptFailed,
             &step, attempt,
             Obj()
                 .add("error", err.to_json())
                 .add("duration_ms", duration)
                 .add("retry_in_ms", delay.count())
                 .add("retry_at_ms", now + delay.count())
                 .done());
      st.token = inst.next_token++;
      outbox_.effects.push_back(TimerEffect{inst.id, index, st.token, delay});
      return;
    }
    if (compensation) {
      compensation_failed(inst, step, attempt, err, duration);
      return;
    }
    record(inst, events::kStepFailed, &step, attempt,
           json{{"error", err.to_json()},
                {"duration_ms", duration},
                {"reason", failure_reason(step, err, attempt)},
                {"in_doubt", in_doubt(err)}});
  }

  /// Whether a command that ended with `err` may still have taken effect: no answer in time
  /// (`deadline_exceeded`) or the connection lost on the way (`unavailable`). Such a step is
  /// compensated too, since compensations tolerate "nothing to undo"; a refusal is not.
  static bool in_doubt(const Error& err) {
    return err.code == codes::kDeadlineExceeded || err.code == codes::kUnavailable;
  }

  // ---- decisions ----------------------------------------------------------------------------

  /// Moves the workflow as far as it can go without waiting for anything.
  void advance(Instance& inst) {
    for (;;) {
      switch (inst.phase) {
        case Phase::kFinished:
          return;
        case Phase::kRunning: {
          if (inst.stopping)
            stop_waiting_steps(inst);
          Flow f = run_sequence(inst, inst.def->root, true);
          if (f == Flow::kRunning)
            return;
          if (f == Flow::kDone) {
            complete(inst);
          } else {
            record(inst, events::kCompensating, nullptr, 0,
                   json{{"reason", inst.failure.value("reason", "")}, {"failure", inst.failure}});
          }
          continue;
        }
        case Phase::kCompensating: {
          if (!run_compensations(inst))
            return;
          if (run_sequence(inst, inst.def->on_failure, false) == Flow::kRunning)
            return;
          finish_failed(inst);
          return;
        }
      }
    }
  }

  /// Runs a sequence: starts its first pending step when allowed. `forward` is false for the
  /// failure handlers, which run after compensation and do not stop at a failed step.
  Flow run_sequence(Instance& inst, const std::vector<std::size_t>& seq, bool forward) {
    for (std::size_t index : seq) {
      const Step& step = inst.def->steps[index];
      StepState& st = inst.steps[index];
      if (st.status == StepStatus::kPending) {
        if (forward && inst.stopping)
          return Flow::kBlocked;
        start_step(inst, step);
      }
      if (st.status == StepStatus::kSucceeded)
        continue;
      if (st.status == StepStatus::kFailed) {
        if (forward)
          return Flow::kFailed;
        continue;
      }
      if (step.is_leaf())
        return Flow::kRunning;
      Flow f = run_composite(inst, step, forward);
      if (f == Flow::kDone) {
        json output = step.kind == StepKind::kChoice ? Obj().add("case", st.chosen).done() : json();
        record(inst, events::kStepSucceeded, &step, 0,
               Obj().add("output", std::move(output)).add("duration_ms", elapsed(st)).done());
        continue;
      }
      if (f == Flow::kFailed) {
        Error e = Error::of(inst.failure.value("code", std::string(codes::kInternal)),
                            inst.failure.value("message", std::string{}));
        record(inst, events::kStepFailed, &step, 0,
               json{{"error", e.to_json()},
                    {"duration_ms", elapsed(st)},
                    {"reason", describe(step) + " failed: " + inst.failure.value("reason", "")}});
      }
      return f;
    }
    return Flow::kDone;
  }

  Flow run_composite(Instance& inst, const Step& step, bool forward) {
    if (step.kind == StepKind::kParallel) {
      bool running = false;
      bool failed = false;
      bool blocked = false;
      for (const auto& branch : step.branches) {
        Flow f = run_sequence(inst, branch, forward);
        running = running || f == Flow::kRunning;
        failed = failed || f == Flow::kFailed;
        blocked = blocked || f == Flow::kBlocked;
      }
      if (running)
        return Flow::kRunning;
      if (failed)
        return Flow::kFailed;
      return blocked ? Flow::kBlocked : Flow::kDone;
    }
    int chosen = inst.steps[step.index].chosen;
    const auto& seq =
        chosen >= 0 ? step.cases[static_cast<std::size_t>(chosen)].steps : step.default_steps;
    return run_sequence(inst, seq, forward);
  }

  void start_step(Instance& inst, const Step& step) {
    switch (step.kind) {
      case StepKind::kTask:
      case StepKind::kPublish:
        start_attempt(inst, step, 1);
        return;
      case StepKind::kParallel:
        record(inst, events::kStepStarted, &step, 0, json{{"branches", step.branches.size()}});
        return;
      case StepKind::kChoice: {
        InstanceScope scope(inst);
        const json* found = scope.resolve(step.on_path);
        json value = found ? *found : json();
        int chosen = detail::kDefaultCase;
        for (std::size_t i = 0; i < step.cases.size(); ++i) {
          if (step.cases[i].matches(value)) {
            chosen = static_cast<int>(i);
            break;
          }
        }
        record(inst, events::kStepStarted, &step, 0,
               json{{"case", chosen}, {"value", std::move(value)}});
        return;
      }
    }
  }

  /// Records and sends attempt `attempt` of a task or publish step.
  void start_attempt(Instance& inst, const Step& step, int attempt) {
    auto input = step.input_template.render(InstanceScope(inst));
    if (!input) {
      Error e = Error::of(codes::kInvalidArgument, "input: " + input.error().message);
      record(
          inst, events::kStepFailed, &step, attempt,
          json{{"error", e.to_json()}, {"duration_ms", 0}, {"reason", failure_reason(step, e, 1)}});
      return;
    }
    std::string key = detail::idempotency_key(inst, step, false);
    Obj data;
    data.add("idempotency_key", key).add("timeout_ms", step.timeout.count());
    if (step.kind == StepKind::kTask) {
      data.add("service", step.service).add("action", step.action).add("request", *input);
    } else {
      data.add("topic", step.topic).add("payload", *input);
    }
    record(inst, attempt == 1 ? events::kStepStarted : events::kStepAttempt, &step, attempt,
           data.done());
    emit(inst, step, std::move(*input), std::move(key), false);
  }

  /// Queues the effect that carries the step's current attempt.
  void emit(Instance& inst, const Step& step, json input, std::string key, bool compensation) {
    StepState& st = inst.steps[step.index];
    st.token = inst.next_token++;
    if (step.kind == StepKind::kPublish) {
      outbox_.effects.push_back(
          PublishEffect{inst.id, step.index, st.token, step.timeout,
                        Publication{inst.id, step.path, st.attempt, step.topic, std::move(input),
                                    std::move(key)}});
      return;
    }
    Command cmd;
    cmd.workflow_id = inst.id;
    cmd.step_path = step.path;
    cmd.input = std::move(input);
    cmd.idempotency_key = std::move(key);
    cmd.compensation = compensation;
    if (compensation) {
      cmd.attempt = st.comp_attempt;
      cmd.service = step.compensation->service;
      cmd.action = step.compensation->action;
      cmd.timeout = step.compensation->timeout;
    } else {
      cmd.attempt = st.attempt;
      cmd.service = step.service;
      cmd.action = step.action;
      cmd.timeout = step.timeout;
    }
    std::size_t index = step.index;
    std::uint64_t token = st.token;
    outbox_.effects.push_back(SendEffect{inst.id, index, token, std::move(cmd)});
  }

  /// Once a step failed or a cancel came, steps waiting to retry give up.
  void stop_waiting_steps(Instance& inst) {
    for (std::size_t i = 0; i < inst.steps.size(); ++i) {
      StepState& st = inst.steps[i];
      if (!st.waiting || st.status != StepStatus::kRunning || st.comp != CompStatus::kNone) {
        continue;
      }
      if (st.timer)
        clock_.cancel(st.timer);
      st.timer = 0;
      const Step& step = inst.def->steps[i];
      Error last = st.error.value_or(Error::of(codes::kCancelled, "stopped"));
      std::string why = inst.cancelled ? "the workflow was cancelled" : "another step failed";
      record(inst, events::kStepFailed, &step, st.attempt,
             json{{"error", last.to_json()},
                  {"duration_ms", elapsed(st)},
                  {"reason", describe(step) + " stopped retrying: " + why},
                  {"in_doubt", st.attempt > 0 && in_doubt(last)}});
    }
  }

  void complete(Instance& inst) {
    json output;
    if (inst.def->output_template) {
      auto rendered = inst.def->output_template->render(InstanceScope(inst));
      if (!rendered) {
        json failure = {{"reason", "workflow output: " + rendered.error().message},
                        {"step", ""},
                        {"code", codes::kInvalidArgument},
                        {"message", rendered.error().message},
                        {"cancelled", false}};
        record(inst, events::kCompensating, nullptr, 0,
               json{{"reason", failure["reason"]}, {"failure", failure}});
        return;
      }
      output = std::move(*rendered);
    }
    record(inst, events::kCompleted, nullptr, 0, Obj().add("output", std::move(output)).done(),
           WorkflowStatus::kCompleted);
  }

  /// Compensates completed steps, latest first, one at a time. True when all are done.
  bool run_compensations(Instance& inst) {
    for (auto it = inst.completed.rbegin(); it != inst.completed.rend(); ++it) {
      StepState& st = inst.steps[*it];
      if (st.comp == CompStatus::kDone)
        continue;
      if (st.comp == CompStatus::kNone) {
        start_compensation_attempt(inst, inst.def->steps[*it], 1);
      }
      return false;
    }
    return true;
  }

  void start_compensation_attempt(Instance& inst, const Step& step, int attempt) {
    const Compensation& c = *step.compensation;
    auto input = c.input_template.render(InstanceScope(inst));
    if (!input) {
      Error e = Error::of(codes::kInvalidArgument, "input: " + input.error().message);
      compensation_failed(inst, step, attempt, e, 0);
      return;
    }
    std::string key = detail::idempotency_key(inst, step, true);
    record(inst, attempt == 1 ? events::kCompensationStarted : events::kCompensationAttempt, &step,
           attempt,
           json{{"idempotency_key", key},
                {"service", c.service},
                {"action", c.action},
                {"request", *input},
                {"timeout_ms", c.timeout.count()}});
    emit(inst, step, std::move(*input), std::move(key), true);
  }

  void compensation_failed(Instance& inst, const Step& step, int attempt, const Error& err,
                           std::int64_t duration) {
    std::string reason =
        "compensation of step '" + step.id + "' (" + step.compensation->action + ") failed";
    if (attempt > 1)
      reason += " after " + std::to_string(attempt) + " attempts";
    reason += ": " + err.code + ": " + err.message;
    record(inst, events::kCompensationFailed, &step, attempt,
           json{{"error", err.to_json()}, {"duration_ms", duration}, {"reason", reason}});
    std::string context = inst.failure.value("reason", "");
    record(inst, events::kNeedsAttention, nullptr, 0,
           json{{"reason", reason + (context.empty() ? "" : " (while undoing: " + context + ")")}},
           WorkflowStatus::kNeedsAttention);
  }

  void finish_failed(Instance& inst) {
    std::size_t undone = static_cast<std::size_t>(
        std::count_if(inst.completed.begin(), inst.completed.end(),
                      [&](std::size_t i) { return inst.steps[i].comp == CompStatus::kDone; }));
    std::string reason = inst.failure.value("reason", "failed");
    if (inst.cancelled) {
      record(inst, events::kCancelled, nullptr, 0,
             json{{"reason", std::move(reason)}, {"compensations", undone}},
             WorkflowStatus::kCancelled);
      return;
    }
    record(inst, events::kFailed, nullptr, 0,
           json{{"reason", std::move(reason)},
                {"step", inst.failure.value("step", "")},
                {"error", json{{"code", inst.failure.value("code", "")},
                               {"message", inst.failure.value("message", "")}}},
                {"compensations", undone}},
           WorkflowStatus::kFailed);
  }

  // ---- recovery ----------------------------------------------------------------------------

  Result<std::unique_ptr<Instance>> rebuild(const WorkflowHistory& h) {
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
      if (auto st = detail::apply(*inst, r, at ? detail::to_ms(*at) : 0); !st)
        return st.error();
    }
    return inst;
  }

  /// Re-issues what was in flight when the previous engine stopped: commands and publications
  /// with their keys, retries at their due time.
  void resume_all() {
    const std::int64_t now = detail::to_ms(clock_.now());
    for (const std::string& id : resume_order_) {
      Instance* inst = find(id);
      if (!inst)
        continue;
      std::size_t in_flight = 0;
      for (const StepState& st : inst->steps)
        in_flight += st.in_flight || st.waiting ? 1 : 0;
      record(*inst, events::kResumed, nullptr, 0, json{{"pending", in_flight}});
      for (std::size_t i = 0; i < inst->steps.size(); ++i) {
        StepState& st = inst->steps[i];
        const Step& step = inst->def->steps[i];
        const bool compensation = st.comp == CompStatus::kRunning;
        if (st.in_flight) {
          const CompiledTemplate& tmpl =
              compensation ? step.compensation->input_template : step.input_template;
          auto input = tmpl.render(InstanceScope(*inst));
          std::string key = detail::idempotency_key(*inst, step, compensation);
          if (input) {
            emit(*inst, step, std::move(*input), std::move(key), compensation);
          } else {
            handle_outcome(*inst, i, input.error());
          }
        } else if (st.waiting) {
          st.token = inst->next_token++;
          milliseconds delay(std::max<std::int64_t>(0, st.retry_at_ms - now));
          outbox_.effects.push_back(TimerEffect{inst->id, i, st.token, delay});
        }
      }
      advance(*inst);
    }
    resume_order_.clear();
  }

  // ---- helpers -----------------------------------------------------------------------------

  Instance* find(const std::string& id) {
    auto it = instances_.find(id);
    return it == instances_.end() ? nullptr : it->second.get();
  }

  Error not_running(const std::string& id) {
    auto found = journal_.find(id);
    if (found.ok() && found->has_value()) {
      return Error::of(codes::kFailedPrecondition,
                       "workflow " + id + " is " + std::string(to_string((*found)->status)));
    }
    return Error::of(codes::kNotFound, "no workflow " + id);
  }

  /// Appends a record to the outbox after applying it to the instance.
  void record(Instance& inst, const char* type, const Step* step, int attempt, json data,
              std::optional<WorkflowStatus> status = std::nullopt) {
    SystemTime now = clock_.now();
    JournalRecord r;
    r.workflow_id = inst.id;
    r.seq = inst.seq + 1;
    r.type = type;
    if (step)
      r.step = step->path;
    r.attempt = attempt;
    r.at = stamp_(now);
    r.data = std::move(data);
    r.status = status;
    if (auto st = detail::apply(inst, r, detail::to_ms(now)); !st) {
      spdlog::error("workflow {}: {}", inst.id, st.error().message);  // a bug: records are ours
    }
    if (status && is_settled(*status))
      outbox_.settled.push_back(inst.id);
    outbox_.records->push_back(std::move(r));
    outbox_.definitions.push_back(inst.def.get());
  }

  std::int64_t elapsed(const StepState& st) const {
    return std::max<std::int64_t>(0, detail::to_ms(clock_.now()) - st.started_ms);
  }

  milliseconds jittered(milliseconds base, double jitter) {
    if (jitter <= 0 || base.count() == 0)
      return base;
    std::uniform_real_distribution<double> dist(1.0 - jitter, 1.0 + jitter);
    return milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * dist(rng_)));
  }

  void sample(const std::string& service, const std::string& action, std::int64_t ms, bool ok) {
    std::lock_guard lock(metrics_mutex_);
    auto& actions = latency_[service];
    auto it = actions.find(action);
    if (it == actions.end()) {
      LatencyRing fresh;
      fresh.stats.service = service;
      fresh.stats.action = action;
      it = actions.emplace(action, std::move(fresh)).first;
    }
    LatencyRing& ring = it->second;
    ring.stats.count += 1;
    ring.stats.errors += ok ? 0 : 1;
    ring.stats.total_ms += static_cast<double>(ms);
    if (options_.latency_samples == 0)
      return;
    if (ring.stats.recent_ms.size() < options_.latency_samples) {
      ring.stats.recent_ms.push_back(static_cast<double>(ms));
    } else {
      ring.stats.recent_ms[ring.next] = static_cast<double>(ms);
    }
    ring.next = (ring.next + 1) % options_.latency_samples;
  }

  void count(const Batch& batch) {
    std::lock_guard lock(metrics_mutex_);
    for (const JournalRecord& r : *batch.records) {
      const std::string& t = r.type;
      if (t == events::kStepStarted) {
        metrics_.step_attempts += r.attempt > 0 ? 1 : 0;
      } else if (t == events::kStepAttempt) {
        ++metrics_.step_attempts;
      } else if (t == events::kStepAttemptFailed) {
        ++metrics_.step_retries;
      } else if (t == events::kCompensationSucceeded) {
        ++metrics_.compensations;
      } else if (t == events::kStarted) {
        ++metrics_.started;
        ++metrics_.in_flight;
      } else if (t == events::kRetryRequested) {
        ++metrics_.in_flight;
        if (r.data.value("mode", "") == "compensation")
          --metrics_.awaiting_attention;
      } else if (t == events::kCompleted) {
        ++metrics_.completed;
        --metrics_.in_flight;
      } else if (t == events::kFailed || t == events::kCancelled) {
        ++(t == events::kFailed ? metrics_.failed : metrics_.cancelled);
        if (r.data.value("compensations", 0) > 0)
          ++metrics_.compensated;
        --metrics_.in_flight;
      } else if (t == events::kNeedsAttention) {
        ++metrics_.needs_attention;
        ++metrics_.awaiting_attention;
        --metrics_.in_flight;
      }
    }
  }

  EngineOptions options_;
  const DefinitionRegistry& registry_;
  Journal& journal_;
  Transport& transport_;
  Clock& clock_;

  // Engine thread only.
  std::unordered_map<std::string, std::unique_ptr<Instance>> instances_;
  std::vector<std::string> resume_order_;
  Batch outbox_;
  IsoStamper stamp_;
  std::mt19937_64 rng_;

  std::atomic<bool> healthy_{true};
  mutable std::mutex metrics_mutex_;
  EngineMetrics metrics_;
  /// By service, then action.
  std::map<std::string, std::map<std::string, LatencyRing, std::less<>>, std::less<>> latency_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::vector<std::function<void()>> queue_;
  bool stop_ = false;
  std::atomic<std::thread::id> thread_id_{};
  std::thread thread_;
};

// ---- Engine --------------------------------------------------------------------------------

double LatencyStats::quantile(double q) const {
  if (recent_ms.empty())
    return 0;
  std::vector<double> sorted = recent_ms;
  std::sort(sorted.begin(), sorted.end());
  double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  return sorted[static_cast<std::size_t>(pos + 0.5)];
}

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

EngineMetrics Engine::metrics() const {
  return core_->metrics();
}

bool Engine::healthy() const {
  return core_->healthy();
}

Result<WorkflowPage> Engine::list(const WorkflowQuery& query) const {
  return core_->journal().list(query);
}

Result<std::optional<WorkflowSummary>> Engine::find(const std::string& workflow_id) const {
  return core_->journal().find(workflow_id);
}

Result<std::vector<JournalRecord>> Engine::timeline(const std::string& workflow_id) const {
  auto h = core_->journal().history(workflow_id);
  if (!h)
    return h.error();
  return std::move(h->records);
}

}  // namespace wonderland::workflow
