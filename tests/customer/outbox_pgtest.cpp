// The outbox flush against the real PostgreSQL: no transaction stays open while the broker
// confirms, concurrent flushers never publish a row twice at once, a flusher that fails or
// dies lets go of its rows, and a session left idle inside a transaction is ended.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "guarded.hpp"
#include "outbox.hpp"
#include "pg_fixture.hpp"

namespace wonderland::customer::test {
namespace {

using messaging::Envelope;
using nlohmann::json;
using namespace std::chrono_literals;

/// A publisher whose publishes wait until the test opens its gate, as a broker that has not
/// confirmed yet; records what it was given.
class GatedPublisher {
 public:
  EventPublisher fn() {
    return [this](const std::string&, const Envelope& event) {
      if (!entered_flag_.exchange(true))
        entered_.set_value();
      gate_.wait();
      std::lock_guard lock(mu_);
      published_.push_back(event.message_id);
      return ok_status();
    };
  }
  /// Waits until a publish has started (and is held at the gate).
  bool wait_entered() { return entered_future_.wait_for(10s) == std::future_status::ready; }
  void open() { open_.set_value(); }
  std::vector<std::string> published() {
    std::lock_guard lock(mu_);
    return published_;
  }

 private:
  std::atomic<bool> entered_flag_{false};
  std::promise<void> entered_;
  std::future<void> entered_future_ = entered_.get_future();
  std::promise<void> open_;
  std::shared_future<void> gate_ = open_.get_future().share();
  std::mutex mu_;
  std::vector<std::string> published_;
};

class OutboxPgTest : public CustomerPgTest {
 protected:
  /// Writes an event to the outbox, as a command's transaction does; returns its message id.
  std::string add_event(const std::string& name) {
    Envelope e = Envelope::make("customer.signed_up", json{{"username", name}}, "test");
    pqxx::work tx(db_.connection());
    exec_sql(tx, "INSERT INTO outbox (routing_key, envelope) VALUES ($1, $2)",
             std::string("customer.signed_up"), e.serialize());
    tx.commit();
    return e.message_id;
  }

  /// `flush_outbox` on a thread of its own, with a connection of its own.
  struct BackgroundFlush {
    BackgroundFlush(const testing::ScopedSchema& schema, EventPublisher publish)
        : db(schema.url(), schema.name()), pid(db.connection().backendpid()) {
      thread = std::thread([this, publish = std::move(publish)] {
        try {
          result = flush_outbox(db, publish);
        } catch (const std::exception& e) {
          error = e.what();
        }
      });
    }
    ~BackgroundFlush() {
      if (thread.joinable())
        thread.join();
    }
    void join() { thread.join(); }
    Database db;
    int pid;
    std::thread thread;
    int result = -1;
    std::string error;
  };
};

TEST_F(OutboxPgTest, NoTransactionIsOpenWhileTheBrokerConfirms) {
  add_event("alice");
  GatedPublisher broker;
  BackgroundFlush flush(schema_, broker.fn());
  ASSERT_TRUE(broker.wait_entered());

  // The flusher's session is not inside a transaction, and the row is not locked: another
  // session can lock it without waiting.
  auto state = query("SELECT state FROM pg_stat_activity WHERE pid = " + std::to_string(flush.pid));
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0][0].as<std::string>(), "idle");
  EXPECT_NO_THROW(query("SELECT id FROM outbox FOR UPDATE NOWAIT"));

  broker.open();
  flush.join();
  EXPECT_EQ(flush.error, "");
  EXPECT_EQ(flush.result, 1);
  EXPECT_EQ(pending_events(db_), 0);
}

TEST_F(OutboxPgTest, AConcurrentFlushSkipsTheRowsBeingPublished) {
  const std::string first = add_event("alice");
  const std::string second = add_event("bob");
  GatedPublisher broker;
  BackgroundFlush slow(schema_, broker.fn());
  ASSERT_TRUE(broker.wait_entered());

  FakePublisher other;
  EXPECT_EQ(flush_outbox(db_, other.fn()), 0);  // both rows belong to the flush in progress
  EXPECT_EQ(other.count(), 0u);

  broker.open();
  slow.join();
  EXPECT_EQ(slow.error, "");
  EXPECT_EQ(slow.result, 2);
  EXPECT_EQ(broker.published(), (std::vector<std::string>{first, second}));  // oldest first
  EXPECT_EQ(pending_events(db_), 0);
  EXPECT_EQ(flush_outbox(db_, other.fn()), 0);
  EXPECT_EQ(other.count(), 0u);
}

TEST_F(OutboxPgTest, ARowAddedDuringAFlushIsLeftToTheNextOne) {
  const std::string first = add_event("alice");
  GatedPublisher broker;
  BackgroundFlush slow(schema_, broker.fn());
  ASSERT_TRUE(broker.wait_entered());
  const std::string second = add_event("bob");

  FakePublisher other;
  EXPECT_EQ(flush_outbox(db_, other.fn()), 1);  // the new row is free; the old one is not
  EXPECT_EQ(other.message_ids(), (std::vector<std::string>{second}));
  broker.open();
  slow.join();
  EXPECT_EQ(broker.published(), (std::vector<std::string>{first}));
  EXPECT_EQ(pending_events(db_), 0);
}

TEST_F(OutboxPgTest, AFailedPublishLetsGoOfTheRowAtOnce) {
  const std::string id = add_event("alice");
  FakePublisher down;
  down.failing = true;
  EXPECT_EQ(flush_outbox(db_, down.fn()), 0);
  EXPECT_EQ(pending_events(db_), 1);

  // Another session takes the row at once: the failed flush holds no lock on it.
  Database other_db(schema_.url(), schema_.name());
  FakePublisher up;
  EXPECT_EQ(flush_outbox(other_db, up.fn()), 1);
  EXPECT_EQ(up.message_ids(), (std::vector<std::string>{id}));
  EXPECT_EQ(pending_events(db_), 0);
}

TEST_F(OutboxPgTest, AFlusherWhoseSessionEndsLetsGoOfItsRows) {
  const std::string id = add_event("alice");
  GatedPublisher broker;
  BackgroundFlush lost(schema_, broker.fn());
  ASSERT_TRUE(broker.wait_entered());

  // The flusher's session ends, as when its process is killed: its claim ends with it.
  query("SELECT pg_terminate_backend(" + std::to_string(lost.pid) + ")");
  FakePublisher other;
  int published = 0;
  for (int i = 0; i < 100 && published == 0; ++i) {
    published = flush_outbox(db_, other.fn());
    if (published == 0)
      std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(published, 1);
  EXPECT_EQ(other.message_ids(), (std::vector<std::string>{id}));
  EXPECT_EQ(pending_events(db_), 0);

  // The lost flusher cannot record anything: its DELETE fails with its session.
  broker.open();
  lost.join();
  EXPECT_NE(lost.error, "");
}

TEST_F(OutboxPgTest, ASessionIdleInATransactionIsEnded) {
  {
    pqxx::nontransaction tx(db_.connection());
    EXPECT_EQ(tx.exec("SHOW idle_in_transaction_session_timeout")[0][0].as<std::string>(), "10s");
  }

  Database db(schema_.url(), schema_.name(), 5, 300ms);
  Result<json> stalled = guarded(db, "test", [&]() -> Result<json> {
    pqxx::work tx(db.connection());
    tx.exec("SELECT count(*) FROM outbox");
    std::this_thread::sleep_for(1500ms);  // a stalled process, inside its transaction
    tx.exec("SELECT count(*) FROM outbox");
    tx.commit();
    return json(true);
  });
  ASSERT_FALSE(stalled.ok());
  EXPECT_EQ(stalled.error().code, codes::kUnavailable) << error_text(stalled.error());
  Result<json> next = guarded(db, "test", [&]() -> Result<json> {
    pqxx::work tx(db.connection());
    return json(tx.exec("SELECT count(*) FROM outbox")[0][0].as<int>());
  });
  ASSERT_TRUE(next.ok()) << error_text(next.error());
  EXPECT_EQ(db.connects(), 2);
}

}  // namespace
}  // namespace wonderland::customer::test
