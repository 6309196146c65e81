// Test helpers: a temporary directory, an observer that records events and waits for them with
// a bounded timeout, and a harness that wires an engine to in-process services and a manual
// clock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "wonderland/testing/temp_dir.hpp"
#include "wonderland/workflow/engine.hpp"
#include "wonderland/workflow/sqlite_journal.hpp"

namespace wonderland::workflow::testing {

using nlohmann::json;
using namespace std::chrono_literals;

using wonderland::testing::TempDir;

/// Collects every observed event; wait() blocks until a matching one arrives or 10 s pass.
class EventLog {
 public:
  Observer observer() {
    return [this](const WorkflowEvent& e) {
      std::lock_guard lock(mutex_);
      records_.push_back(e.record);
      cv_.notify_all();
    };
  }

  /// The `nth` (1-based) record of `type` of workflow `id` (and of `step` when given). Throws
  /// when it does not come within the timeout.
  JournalRecord wait(const std::string& id, const std::string& type, const std::string& step = "",
                     int nth = 1, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    JournalRecord found;
    bool ok = cv_.wait_for(lock, timeout, [&] {
      int seen = 0;
      for (const auto& r : records_) {
        if (r.workflow_id == id && r.type == type && (step.empty() || r.step == step) &&
            ++seen == nth) {
          found = r;
          return true;
        }
      }
      return false;
    });
    if (!ok) {
      std::string msg = "timed out waiting for " + type + (step.empty() ? "" : " of " + step) +
                        " #" + std::to_string(nth) + " of " + id + "; saw:";
      for (const auto& r : records_) {
        if (r.workflow_id == id)
          msg += " " + r.type + (r.step.empty() ? "" : "(" + r.step + ")");
      }
      throw std::runtime_error(msg);
    }
    return found;
  }

  /// Waits until the workflow settles (completed, failed, cancelled, needs_attention); returns
  /// the settling record.
  JournalRecord wait_settled(const std::string& id, int nth = 1,
                             std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    JournalRecord found;
    bool ok = cv_.wait_for(lock, timeout, [&] {
      int seen = 0;
      for (const auto& r : records_) {
        if (r.workflow_id == id && r.status && is_settled(*r.status) && ++seen == nth) {
          found = r;
          return true;
        }
      }
      return false;
    });
    if (!ok)
      throw std::runtime_error("timed out waiting for " + id + " to settle");
    return found;
  }

  std::vector<JournalRecord> of(const std::string& id) const {
    std::lock_guard lock(mutex_);
    std::vector<JournalRecord> out;
    for (const auto& r : records_) {
      if (r.workflow_id == id)
        out.push_back(r);
    }
    return out;
  }

  /// "type" or "type(step)" of each of the workflow's records, in order.
  std::vector<std::string> trace(const std::string& id) const {
    std::vector<std::string> out;
    for (const auto& r : of(id))
      out.push_back(r.type + (r.step.empty() ? "" : "(" + r.step + ")"));
    return out;
  }

  int count(const std::string& id, const std::string& type, const std::string& step = "") const {
    int n = 0;
    for (const auto& r : of(id))
      n += r.type == type && (step.empty() || r.step == step) ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<JournalRecord> records_;
};

/// Commands received by the in-process services, in arrival order.
class CallLog {
 public:
  void add(const Command& c) {
    std::lock_guard lock(mutex_);
    calls_.push_back(c);
  }
  std::vector<Command> all() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<std::string> actions() const {
    std::vector<std::string> out;
    for (const auto& c : all())
      out.push_back(c.action);
    return out;
  }
  std::vector<std::string> keys(const std::string& action) const {
    std::vector<std::string> out;
    for (const auto& c : all()) {
      if (c.action == action)
        out.push_back(c.idempotency_key);
    }
    return out;
  }
  int count(const std::string& action) const { return static_cast<int>(keys(action).size()); }

 private:
  mutable std::mutex mutex_;
  std::vector<Command> calls_;
};

/// Parked replies of asynchronous handlers, to answer later from the test.
class Parked {
 public:
  InProcessTransport::AsyncHandler handler(CallLog* log = nullptr) {
    return [this, log](const Command& c, ReplyCallback done) {
      if (log)
        log->add(c);
      std::lock_guard lock(mutex_);
      parked_.push_back({c, std::move(done)});
      cv_.notify_all();
    };
  }
  /// Waits until `n` commands are parked (10 s at most).
  void wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, 10s, [&] { return parked_.size() >= n; })) {
      throw std::runtime_error("timed out waiting for parked commands");
    }
  }
  /// Replies to the parked command of `step_path` (the earliest one still parked), of workflow
  /// `workflow_id` when given.
  void reply(const std::string& step_path, Result<json> reply,
             const std::string& workflow_id = "") {
    ReplyCallback done;
    {
      std::lock_guard lock(mutex_);
      for (auto it = parked_.begin(); it != parked_.end(); ++it) {
        if (it->command.step_path == step_path &&
            (workflow_id.empty() || it->command.workflow_id == workflow_id)) {
          done = std::move(it->done);
          parked_.erase(it);
          break;
        }
      }
    }
    if (!done)
      throw std::runtime_error("nothing parked for " + step_path);
    done(std::move(reply));
  }
  std::vector<Command> commands() const {
    std::lock_guard lock(mutex_);
    std::vector<Command> out;
    for (const auto& p : parked_)
      out.push_back(p.command);
    return out;
  }
  /// Takes every parked reply callback out (e.g. to answer after an engine is gone).
  std::vector<ReplyCallback> take_all() {
    std::lock_guard lock(mutex_);
    std::vector<ReplyCallback> out;
    for (auto& p : parked_)
      out.push_back(std::move(p.done));
    parked_.clear();
    return out;
  }

 private:
  struct Entry {
    Command command;
    ReplyCallback done;
  };
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Entry> parked_;
};

/// An engine over in-process services, a manual clock and a SQLite journal in a temp dir.
struct Harness {
  TempDir dir;
  DefinitionRegistry registry;
  ManualClock clock;
  InProcessTransport transport;
  CallLog calls;
  EventLog log;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<Engine> engine;

  std::filesystem::path journal_path() const { return dir.path() / "journal.db"; }

  /// (Re)creates journal and engine; the old ones must have been stopped first.
  void boot(EngineOptions options = {}) {
    if (!journal)
      journal = open_sqlite_journal({.path = journal_path()}).value();
    options.seed = 42;
    options.observers.push_back(log.observer());
    engine = Engine::create(std::move(options), registry, *journal, transport, clock).value();
  }

  /// Stops engine and journal, as a crash would leave them (nothing more gets written).
  void stop() {
    engine.reset();
    journal.reset();
  }

  void define(const json& doc) {
    auto def = parse_definition(doc, "test.json");
    if (!def)
      throw std::runtime_error(def.error().message);
    auto st = registry.add(*def);
    if (!st)
      throw std::runtime_error(st.error().message);
  }

  /// A handler that logs the call and replies `reply`.
  void serve(const std::string& action, std::function<Result<json>(const Command&)> reply) {
    transport.on(action, [this, reply = std::move(reply)](const Command& c) {
      calls.add(c);
      return reply(c);
    });
  }
  void serve_ok(const std::string& action, json output = json::object()) {
    serve(action, [output = std::move(output)](const Command&) -> Result<json> { return output; });
  }

  /// Returns once the engine has processed everything posted before (a blocking call is
  /// handled in order with the replies and timers queued ahead of it).
  void sync() { (void)engine->cancel("sync-barrier", ""); }

  std::string start(const std::string& definition, json input = json::object(),
                    std::string id = {}) {
    auto r = engine->start(
        StartRequest{.definition = definition, .input = std::move(input), .id = std::move(id)});
    if (!r)
      throw std::runtime_error(r.error().message);
    return *r;
  }
};

/// Advances the clock to the next retry once the nth failed attempt of `step` is recorded.
inline void next_retry(Harness& h, const std::string& id, const std::string& step, int nth) {
  h.log.wait(id, events::kStepAttemptFailed, step, nth);
  auto due = h.clock.next_due();
  ASSERT_TRUE(due.has_value());
  h.clock.advance(*due);
}

/// A task step document.
inline json task(const std::string& id, const std::string& action, bool compensable = false) {
  json s = {{"id", id},
            {"kind", "task"},
            {"service", "svc"},
            {"action", action},
            {"input", {{"wf", "${workflow.id}"}}},
            {"retry", {{"max_attempts", 1}}}};
  if (compensable)
    s["compensation"] = {{"action", "undo." + id}, {"input", {{"step", id}}}};
  return s;
}

/// A definition document with `steps` and an on_failure publish of `<name>.failed`.
inline json workflow(const std::string& name, json steps, int version = 1) {
  return json{{"name", name},
              {"version", version},
              {"steps", std::move(steps)},
              {"on_failure", json::array({{{"id", "tell"},
                                           {"kind", "publish"},
                                           {"topic", name + ".failed"},
                                           {"input",
                                            {{"reason", "${failure.reason}"},
                                             {"code", "${failure.code}"},
                                             {"cancelled", "${failure.cancelled}"}}}}})}};
}

/// In-process bookstore services for workflows/purchase.json: every call succeeds.
inline void serve_bookstore(Harness& h) {
  h.serve("customer.validate", [](const Command& c) -> Result<json> {
    return json{{"customer_id", c.input["customer_id"]},
                {"items", json::array({{{"isbn", "978-0-00"}, {"quantity", 2}}})}};
  });
  h.serve("inventory.price", [](const Command&) -> Result<json> {
    return json{
        {"lines",
         json::array(
             {{{"isbn", "978-0-00"}, {"quantity", 2}, {"unit_cents", 1500}, {"cents", 3000}}})},
        {"total_cents", 3000},
        {"currency", "EUR"}};
  });
  h.serve("inventory.reserve", [](const Command& c) -> Result<json> {
    return json{{"reservation_id", "r-" + c.idempotency_key}};
  });
  h.serve("payment.charge", [](const Command& c) -> Result<json> {
    return json{{"payment_id", "p-" + c.idempotency_key}};
  });
  for (const char* action : {"inventory.release", "payment.refund", "inventory.confirm",
                             "customer.record_order", "customer.clear_basket"}) {
    h.serve_ok(action);
  }
}

/// Publications seen by a subscriber to every topic.
class Publications {
 public:
  explicit Publications(InProcessTransport& t) : state_(std::make_shared<State>()) {
    t.subscribe("*", [state = state_](const Publication& p) {
      std::lock_guard lock(state->mutex);
      state->seen.push_back(p);
    });
  }
  std::vector<Publication> on(const std::string& topic) const {
    std::lock_guard lock(state_->mutex);
    std::vector<Publication> out;
    for (const auto& p : state_->seen) {
      if (p.topic == topic)
        out.push_back(p);
    }
    return out;
  }

 private:
  struct State {
    std::mutex mutex;
    std::vector<Publication> seen;
  };
  std::shared_ptr<State> state_;
};

}  // namespace wonderland::workflow::testing
