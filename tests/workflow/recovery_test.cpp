// Recovery: an engine is destroyed mid-flight (as a crash leaves things: the journal holds
// what was durable, commands are in flight), and a new engine on the same SQLite file resumes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "purchase_harness.hpp"
#include "support.hpp"
#include "wonderland/workflow/engine.hpp"

namespace wonderland::workflow {
namespace {

using namespace testing;  // NOLINT
using ::testing::ElementsAre;

/// A payment service that deduplicates by idempotency key, as real services do: an effect
/// happens once per key, a repeated key gets the recorded reply.
class PaymentService {
 public:
  Result<json> charge(const Command& c) {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = payments_.try_emplace(c.idempotency_key, "p-" + std::to_string(next_));
    if (fresh) {
      ++next_;
      ++effects_;
    }
    return json{{"payment_id", it->second}};
  }
  int effects() const {
    std::lock_guard lock(mutex_);
    return effects_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> payments_;
  int next_ = 1;
  int effects_ = 0;
};

TEST(Recovery, ResumesInFlightCommandsWithTheSameKeys) {
  Harness h;
  ASSERT_NO_FATAL_FAILURE(serve_purchase(h));
  Parked parked;
  h.transport.on_async("payment.charge", parked.handler(&h.calls));
  h.boot();

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(h.start("purchase", {{"customer_id", "c"}}));
  parked.wait_for(3);
  std::set<std::string> parked_keys;
  for (const auto& c : parked.commands())
    parked_keys.insert(c.idempotency_key);
  ASSERT_EQ(parked_keys.size(), 3u);

  h.stop();  // the "crash": the engine and the journal are gone, charges are in flight

  PaymentService payments;
  h.serve("payment.charge", [&](const Command& c) { return payments.charge(c); });
  h.boot();
  for (const auto& id : ids) {
    JournalRecord end = h.log.wait_settled(id);
    EXPECT_EQ(end.type, events::kCompleted) << id << ": " << end.data.dump();
    EXPECT_EQ(h.log.count(id, events::kResumed), 1);
  }
  // The charges were sent again under the keys of the lost attempts, and happened once each.
  std::set<std::string> resent;
  for (const auto& k : h.calls.keys("payment.charge"))
    resent.insert(k);
  EXPECT_EQ(resent, parked_keys);
  EXPECT_EQ(payments.effects(), 3);
  // Steps that had completed before the crash were not sent again.
  EXPECT_EQ(h.calls.count("inventory.reserve"), 3);
  EXPECT_EQ(h.calls.count("customer.validate"), 3);
  EXPECT_EQ(h.engine->metrics().recovered, 3u);

  // Replies addressed to the dead engine are dropped.
  for (auto& done : parked.take_all())
    done(Error::of(codes::kInvalidArgument, "too late"));
  h.sync();
  for (const auto& id : ids) {
    EXPECT_EQ((*h.engine->find(id))->status, WorkflowStatus::kCompleted);
    EXPECT_EQ(h.log.count(id, events::kStepFailed), 0);
  }
}

TEST(Recovery, ReschedulesAPendingRetryAtItsDueTime) {
  Harness h;
  json b = task("b", "svc.b");
  b["retry"] = {{"max_attempts", 3}, {"initial_backoff_ms", 1000}, {"jitter", 0}};
  h.define(workflow("later", json::array({task("a", "svc.a"), b})));
  h.serve_ok("svc.a");
  std::atomic<bool> down{true};
  h.serve("svc.b", [&](const Command&) -> Result<json> {
    if (down)
      return Error::of(codes::kUnavailable, "down");
    return json{{"ok", 1}};
  });
  h.boot();
  std::string id = h.start("later");
  h.log.wait(id, events::kStepAttemptFailed, "b");
  h.clock.advance(std::chrono::milliseconds(400));
  h.stop();

  down = false;
  h.boot();
  h.log.wait(id, events::kResumed);
  EXPECT_EQ(h.clock.next_due(), std::chrono::milliseconds(600));  // the rest of the backoff
  h.clock.advance(std::chrono::milliseconds(600));
  EXPECT_EQ(h.log.wait_settled(id).type, events::kCompleted);
  auto attempts = h.calls.all();
  ASSERT_EQ(attempts.size(), 3u);  // a, b#1, b#2
  EXPECT_EQ(attempts[2].attempt, 2);
  EXPECT_EQ(attempts[2].idempotency_key, attempts[1].idempotency_key);
}

TEST(Recovery, ResumesACompensationInFlight) {
  Harness h;
  h.define(workflow("undo", json::array({task("a", "svc.a", true), task("b", "svc.b")})));
  h.serve_ok("svc.a");
  h.serve("svc.b",
          [](const Command&) -> Result<json> { return Error::of(codes::kInvalidArgument, "no"); });
  Parked parked;
  h.transport.on_async("undo.a", parked.handler(&h.calls));
  h.boot();
  std::string id = h.start("undo");
  parked.wait_for(1);
  h.stop();

  h.serve_ok("undo.a");
  h.boot();
  JournalRecord end = h.log.wait_settled(id);
  EXPECT_EQ(end.type, events::kFailed);
  EXPECT_THAT(h.calls.keys("undo.a"), ElementsAre(id + ":a:compensate", id + ":a:compensate"));
  EXPECT_EQ(h.calls.count("svc.a"), 1);
}

TEST(Recovery, OnlyUnfinishedWorkflowsAreResumed) {
  Harness h;
  h.define(workflow("mix", json::array({task("a", "svc.a")})));
  Parked parked;
  h.transport.on_async("svc.a", parked.handler());
  h.boot();
  std::string done_id = h.start("mix");
  parked.wait_for(1);
  parked.reply("a", json::object());
  h.log.wait_settled(done_id);
  std::string open_id = h.start("mix");
  parked.wait_for(1);
  h.stop();

  h.serve_ok("svc.a");
  h.boot();
  EXPECT_EQ(h.log.wait_settled(open_id).type, events::kCompleted);
  EXPECT_EQ(h.engine->metrics().recovered, 1u);
  EXPECT_EQ(h.log.count(done_id, events::kResumed), 0);
}

TEST(Recovery, MissingDefinitionIsSkippedAndKept) {
  Harness h;
  h.define(workflow("gone", json::array({task("a", "svc.a")})));
  Parked parked;
  h.transport.on_async("svc.a", parked.handler());
  h.boot();
  std::string id = h.start("gone");
  parked.wait_for(1);
  h.stop();

  h.journal = open_sqlite_journal({.path = h.journal_path()}).value();
  DefinitionRegistry empty;
  auto engine = Engine::create({}, empty, *h.journal, h.transport, h.clock).value();
  EXPECT_EQ(engine->metrics().recovery_skipped, 1u);
  EXPECT_EQ(engine->metrics().recovered, 0u);
  EXPECT_EQ((*engine->find(id))->status, WorkflowStatus::kRunning);
}

TEST(Journal, SecondEngineOnTheSameFileIsRefused) {
  Harness h;
  h.boot();
  auto second = open_sqlite_journal({.path = h.journal_path()});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, codes::kFailedPrecondition);
}

}  // namespace
}  // namespace wonderland::workflow
