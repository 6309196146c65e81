// Journal batching: the records the engine decided since its last flush, and the effects
// (commands, publications, timers, callbacks) that may only happen once those records are
// durable. Decisions append here; the engine core hands the whole batch to the journal in one
// append() and runs the effects when the journal reports it durable. A new kind of effect (e.g.
// starting a sub-workflow or waiting for a signal) is a new Effect alternative here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "instance.hpp"
#include "wonderland/workflow/clock.hpp"
#include "wonderland/workflow/journal.hpp"
#include "wonderland/workflow/transport.hpp"

namespace wonderland::workflow::detail {

/// Sends attempt `token` of a task step (or of its compensation).
struct SendEffect {
  std::string workflow_id;
  std::size_t step;
  std::uint64_t token;
  Command command;
};
/// Publishes attempt `token` of a publish step.
struct PublishEffect {
  std::string workflow_id;
  std::size_t step;
  std::uint64_t token;
  std::chrono::milliseconds timeout;
  Publication publication;
};
/// Starts the backoff timer after failed attempt `token`.
struct TimerEffect {
  std::string workflow_id;
  std::size_t step;
  std::uint64_t token;
  std::chrono::milliseconds delay;
};
/// Acts on a child workflow of a workflow or map step (`step` of `workflow_id`). Each action is
/// idempotent, so that a restart may ask again: kStart starts `child_id` unless it exists (a
/// child that already ended reports its end at once); kCancel cancels it if it runs; kUndo
/// compensates it if it completed (it then ends cancelled), or reports that it ended otherwise.
struct ChildEffect {
  enum class Action { kStart, kCancel, kUndo };
  Action action = Action::kStart;
  std::string workflow_id;
  std::string step;  ///< The parent step's path.
  std::string child_id;
  std::string definition;
  int version = 0;
  nlohmann::json input;  ///< kStart: the child's input.
  nlohmann::json item;   ///< kStart of a map iteration: its element and index.
  std::int64_t index = -1;
  std::string reason;  ///< kCancel and kUndo: why.
};
/// A caller's callback; gets the durability of the batch it rode on.
struct CallEffect {
  std::function<void(const Status&)> fn;
};
using Effect = std::variant<SendEffect, PublishEffect, TimerEffect, ChildEffect, CallEffect>;

/// Records handed to the journal in one append, with what waits for them.
struct JournalBatch {
  std::shared_ptr<std::vector<JournalRecord>> records =
      std::make_shared<std::vector<JournalRecord>>();
  std::vector<const Definition*> definitions;  ///< Parallel to records.
  std::vector<Effect> effects;
  std::vector<std::string> settled;  ///< Workflows that settled in this batch.

  bool empty() const { return records->empty() && effects.empty(); }
};

/// Builds a JSON object member by member, moving the values in (initializer lists copy them).
class JsonObject {
 public:
  JsonObject& add(const char* key, nlohmann::json value) {
    members_.emplace(key, std::move(value));
    return *this;
  }
  nlohmann::json done() { return nlohmann::json(std::move(members_)); }

 private:
  nlohmann::json::object_t members_;
};

/// format_iso8601, reusing the formatted second of the previous call: the engine stamps many
/// records per second.
class IsoStamper {
 public:
  std::string operator()(SystemTime t);

 private:
  std::int64_t second_ = std::numeric_limits<std::int64_t>::min();
  std::string prefix_;
};

/// The batch being filled on the engine thread.
class UnwrittenRecords {
 public:
  explicit UnwrittenRecords(Clock& clock) : clock_(clock) {}

  /// Applies a new record to the instance and adds it to the batch.
  void record(Instance& inst, const char* type, const Step* step, int attempt, nlohmann::json data,
              std::optional<WorkflowStatus> status = std::nullopt);
  void add_effect(Effect effect) { batch_.effects.push_back(std::move(effect)); }
  /// Runs `fn` with the journal's verdict on everything recorded so far.
  void call_after_commit(std::function<void(const Status&)> fn) {
    add_effect(CallEffect{std::move(fn)});
  }

  std::size_t record_count() const { return batch_.records->size(); }
  bool empty() const { return batch_.empty(); }
  /// The batch so far; a new one starts.
  JournalBatch take();

 private:
  Clock& clock_;
  IsoStamper stamp_;
  JournalBatch batch_;
};

}  // namespace wonderland::workflow::detail
