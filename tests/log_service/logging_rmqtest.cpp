// The logging service in-process against the broker the harness started. Every test uses
// exchanges, queues and a log directory of its own, so it runs beside a live system.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <future>
#include <iostream>
#include <set>
#include <thread>

#include "wonderland/log_service/live.hpp"
#include "wonderland/log_service/protocol.hpp"
#include "wonderland/log_service/service.hpp"
#include "wonderland/log_store/csv.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/messaging/topology.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/temp_dir.hpp"

namespace wonderland::log_service {
namespace {

using namespace std::chrono_literals;
using log_store::Record;
using log_store::Severity;
using messaging::Connection;
using messaging::ConnectionOptions;
using messaging::Envelope;
using Clock = std::chrono::steady_clock;

ConnectionOptions connection_options(const std::string& service) {
  ConnectionOptions o;
  o.url = wonderland::testing::amqp_url();
  o.service = service;
  o.reconnect_min_backoff = 50ms;
  o.reconnect_max_backoff = 500ms;
  return o;
}

Envelope log_envelope(const std::string& service, Severity severity, const std::string& message,
                      const std::string& correlation = {},
                      nlohmann::json fields = nlohmann::json::object()) {
  nlohmann::json body = {{"timestamp", now_iso8601()},
                         {"service", service},
                         {"severity", std::string(log_store::to_string(severity))},
                         {"correlation_id", correlation},
                         {"message", message},
                         {"fields", std::move(fields)}};
  Envelope e = Envelope::make(kRecordType, std::move(body), service);
  e.correlation_id = correlation;
  return e;
}

/// Publishes with at most `window` publishes awaiting their confirm; returns the failures.
class Publisher {
 public:
  Publisher(Connection& conn, std::size_t window) : conn_(conn), window_(window) {}
  void publish(const messaging::ExchangeName& exchange, const std::string& key, Envelope e) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return in_flight_ < window_; });
      ++in_flight_;
    }
    messaging::Outgoing out;
    out.exchange = exchange;
    out.routing_key = key;
    out.envelope = std::move(e);
    out.delivery = messaging::Delivery::kTransient;
    out.timeout = 60s;
    conn_.publish(std::move(out), [this](const Status& s) {
      std::lock_guard lock(mu_);
      --in_flight_;
      if (!s.ok())
        ++failures_;
      cv_.notify_all();
    });
  }
  int finish() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ == 0; });
    return failures_;
  }

 private:
  Connection& conn_;
  std::size_t window_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;
  int failures_ = 0;
};

class LoggingServiceTest : public ::testing::Test {
 protected:
  LoggingServiceTest() : client_(connection_options("logging-test-client")) {
    const std::string id = wonderland::testing::unique_name("t");
    options_.topology.logs_exchange = messaging::ExchangeName{"test.logs." + id};
    options_.topology.workflow_exchange = messaging::ExchangeName{"test.workflow." + id};
    options_.topology.live_exchange = messaging::ExchangeName{"test.logs.live." + id};
    options_.topology.records_queue = messaging::QueueName{"test.logging.records." + id};
    options_.topology.workflow_queue = messaging::QueueName{"test.logging.workflow." + id};
    options_.topology.query_queue = messaging::QueueName{"test.logging.query." + id};
    options_.store.writer.dir = dir_.path();
    service_name_ = "svc-" + id.substr(id.size() - 8);
  }

  ~LoggingServiceTest() override {
    service_.reset();
    const auto& t = options_.topology;
    for (const auto& q : {t.records_queue, t.workflow_queue, t.query_queue}) {
      try {
        client_.delete_queue(q);
        client_.delete_queue(messaging::dead_letter_queue_for(q));
      } catch (const std::exception&) {
      }
    }
    for (const auto& x : {t.logs_exchange, t.workflow_exchange, t.live_exchange}) {
      try {
        client_.delete_exchange(x);
      } catch (const std::exception&) {
      }
    }
  }

  void start() {
    service_ = std::make_unique<LoggingService>(connection_options("logging"), options_);
  }

  bool wait_stored(std::uint64_t records, std::chrono::milliseconds timeout) {
    return wonderland::testing::eventually(
        [&] { return service_->stats().records + service_->stats().workflow_events >= records; },
        timeout);
  }

  // The reasons of the first `count` messages dead-lettered from `queue` (fewer after 20 s),
  // sorted: handlers may take the messages in either order.
  std::vector<std::string> dead_letter_reasons(const messaging::QueueName& queue,
                                               std::size_t count) {
    std::vector<std::string> reasons;
    Connection inspector(connection_options("logging-inspector"));
    wonderland::testing::eventually(
        [&] {
          if (auto dead = inspector.get(messaging::dead_letter_queue_for(queue)))
            reasons.push_back(dead->string_headers["x-wonderland-reason"]);
          return reasons.size() >= count;
        },
        20s);
    std::sort(reasons.begin(), reasons.end());
    return reasons;
  }

  Result<log_store::QueryPage> rpc_query(const nlohmann::json& body) {
    messaging::RpcClient rpc(client_);
    auto reply = rpc.call(messaging::RpcRequest{options_.topology.query_queue,
                                                Envelope::make(kQueryType, body), 20s,
                                                messaging::Delivery::kTransient})
                     .get();
    if (!reply.ok())
      return reply.error();
    return log_store::QueryPage::from_json(reply->body);
  }

  wonderland::testing::TempDir dir_{"wl-logging"};
  ServiceOptions options_;
  std::string service_name_;
  Connection client_;
  std::unique_ptr<LoggingService> service_;
};

TEST_F(LoggingServiceTest, ABurstFromFourConnectionsIsStoredCompletely) {
  start();
  constexpr int kConnections = 4;
  constexpr int kTotal = 50'000;
  constexpr int kEach = kTotal / kConnections;
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      Connection conn(connection_options("burst-" + std::to_string(c)));
      Publisher pub(conn, 2000);
      for (int i = 0; i < kEach; ++i) {
        int n = c * kEach + i;
        auto severity = static_cast<Severity>(n % 4);
        pub.publish(options_.topology.logs_exchange, std::string(log_store::to_string(severity)),
                    log_envelope(service_name_, severity, "burst record " + std::to_string(n), {},
                                 {{"n", n}}));
      }
      failures += pub.finish();
    });
  }
  for (auto& t : threads)
    t.join();
  const double publish_s = std::chrono::duration<double>(Clock::now() - started).count();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(wait_stored(kTotal, 120s))
      << "stored " << service_->stats().records << " of " << kTotal;
  const double stored_s = std::chrono::duration<double>(Clock::now() - started).count();
  auto stats = service_->stats();
  std::cout << "burst: published " << kTotal << " in " << publish_s << " s, all stored after "
            << stored_s << " s (" << static_cast<int>(kTotal / stored_s) << " records/s; "
            << stats.store.batches << " batches, largest " << stats.store.largest_batch << ")\n";
  EXPECT_EQ(stats.records, static_cast<std::uint64_t>(kTotal));
  EXPECT_EQ(stats.store_failures, 0U);

  // Every number exactly once, in the files and through queries.
  std::multiset<int> on_file;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& row : log_store::csv::parse(text)) {
      auto r = log_store::csv::record_from_row(row);
      if (r)
        on_file.insert(r->fields.at("n").get<int>());
    }
  }
  EXPECT_EQ(on_file.size(), static_cast<std::size_t>(kTotal));
  EXPECT_EQ(std::set<int>(on_file.begin(), on_file.end()).size(), static_cast<std::size_t>(kTotal));

  std::set<int> queried;
  log_store::Query q;
  q.filter.service = service_name_;
  q.limit = 1000;
  for (;;) {
    auto page = service_->store().query(q);
    for (const auto& r : page.records)
      queried.insert(r.fields.at("n").get<int>());
    if (!page.next_cursor)
      break;
    q.cursor = log_store::Cursor::decode(*page.next_cursor);
  }
  EXPECT_EQ(queried.size(), static_cast<std::size_t>(kTotal));
}

TEST_F(LoggingServiceTest, QueriesOverRpcAreFilteredAndPaged) {
  start();
  const std::string corr = new_uuid();
  std::vector<Envelope> sent = {
      log_envelope(service_name_, Severity::kInfo, "order placed, total €12", corr),
      log_envelope(service_name_, Severity::kWarning, "stock LOW for \"b-1\"", corr),
      log_envelope(service_name_, Severity::kError, "payment declined\nretrying", corr),
      log_envelope("other-" + service_name_, Severity::kError, "unrelated failure"),
      log_envelope(service_name_, Severity::kDebug, "Müller — 東京"),
  };
  // One at a time: handlers run concurrently, so storage order follows publishing order only
  // when each record is stored before the next is sent.
  for (std::size_t i = 0; i < sent.size(); ++i) {
    auto key = sent[i].body["severity"].get<std::string>();
    ASSERT_TRUE(client_.publish(messaging::Outgoing{options_.topology.logs_exchange, key, sent[i]})
                    .get()
                    .ok());
    ASSERT_TRUE(wait_stored(i + 1, 20s));
  }
  auto wf = Envelope::make("workflow.step_failed",
                           {{"step", "charge"}, {"reason", "card declined"}}, "mediator");
  wf.correlation_id = corr;
  ASSERT_TRUE(client_.publish(messaging::Outgoing{options_.topology.workflow_exchange, wf.type, wf})
                  .get()
                  .ok());
  ASSERT_TRUE(wait_stored(sent.size() + 1, 20s));

  auto by_corr = rpc_query({{"correlation_id", corr}});
  ASSERT_TRUE(by_corr.ok()) << by_corr.error().message;
  ASSERT_EQ(by_corr->records.size(), 4U);
  EXPECT_FALSE(by_corr->next_cursor);
  std::multiset<std::string> services;
  for (const auto& r : by_corr->records)
    services.insert(r.service);
  EXPECT_EQ(services.count("mediator"), 1U);

  auto errors = rpc_query({{"correlation_id", corr}, {"min_severity", "error"}});
  ASSERT_TRUE(errors.ok());
  ASSERT_EQ(errors->records.size(), 2U);
  for (const auto& r : errors->records)
    EXPECT_EQ(r.severity, Severity::kError);

  auto text = rpc_query({{"service", service_name_}, {"text", "stock low"}});
  ASSERT_TRUE(text.ok());
  ASSERT_EQ(text->records.size(), 1U);
  EXPECT_EQ(text->records[0].message, "stock LOW for \"b-1\"");

  auto utf8 = rpc_query({{"service", service_name_}, {"severity", "debug"}});
  ASSERT_TRUE(utf8.ok());
  ASSERT_EQ(utf8->records.size(), 1U);
  EXPECT_EQ(utf8->records[0].message, "Müller — 東京");

  // Paging, newest first, over RPC.
  std::vector<std::string> messages;
  nlohmann::json q = {{"service", service_name_}, {"limit", 2}};
  for (int page = 0; page < 10; ++page) {
    auto p = rpc_query(q);
    ASSERT_TRUE(p.ok());
    for (const auto& r : p->records)
      messages.push_back(r.message);
    if (!p->next_cursor)
      break;
    q["cursor"] = *p->next_cursor;
  }
  EXPECT_EQ(messages,
            (std::vector<std::string>{"Müller — 東京", "payment declined\nretrying",
                                      "stock LOW for \"b-1\"", "order placed, total €12"}));

  auto range = rpc_query({{"service", service_name_}, {"until", "2000-01-01T00:00:00Z"}});
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->records.empty());

  for (const auto& [body, field] :
       std::vector<std::pair<nlohmann::json, std::string>>{{{{"severity", "loud"}}, "severity"},
                                                           {{{"since", "last tuesday"}}, "since"},
                                                           {{{"limit", 5000}}, "limit"},
                                                           {{{"cursor", "nope"}}, "cursor"},
                                                           {{{"servce", "x"}}, "servce"}}) {
    auto bad = rpc_query(body);
    ASSERT_FALSE(bad.ok()) << body.dump();
    EXPECT_EQ(bad.error().code, codes::kInvalidArgument);
    EXPECT_NE(bad.error().message.find("'" + field + "'"), std::string::npos)
        << bad.error().message;
  }
}

TEST_F(LoggingServiceTest, TheLiveFeedDeliversANewRecordWithinOneSecond) {
  start();
  Connection follower(connection_options("live-follower"));
  std::promise<std::pair<Record, Clock::time_point>> got;
  std::atomic<bool> done{false};
  LiveOptions live;
  live.exchange = options_.topology.live_exchange;
  LiveSubscription sub(
      follower,
      log_store::Filter::from_params({{"service", service_name_}, {"min_severity", "warning"}})
          .value(),
      [&](const Record& r) {
        if (!done.exchange(true))
          got.set_value({r, Clock::now()});
      },
      live);
  // Filtered out: another severity and another service.
  ASSERT_TRUE(
      client_
          .publish(messaging::Outgoing{options_.topology.logs_exchange, "info",
                                       log_envelope(service_name_, Severity::kInfo, "quiet")})
          .get()
          .ok());
  ASSERT_TRUE(
      client_
          .publish(messaging::Outgoing{options_.topology.logs_exchange, "error",
                                       log_envelope("someone-else", Severity::kError, "other")})
          .get()
          .ok());
  auto sent_at = Clock::now();
  ASSERT_TRUE(client_
                  .publish(messaging::Outgoing{
                      options_.topology.logs_exchange, "warning",
                      log_envelope(service_name_, Severity::kWarning, "live, now!")})
                  .get()
                  .ok());
  auto future = got.get_future();
  ASSERT_EQ(future.wait_for(1s), std::future_status::ready) << "no live record within 1 s";
  auto [record, at] = future.get();
  EXPECT_EQ(record.message, "live, now!");
  EXPECT_EQ(record.service, service_name_);
  std::cout << "live: delivered after "
            << std::chrono::duration<double, std::milli>(at - sent_at).count() << " ms\n";
}

TEST_F(LoggingServiceTest, WorkflowEventsReachTheLiveFeedOnlyWhenAskedTo) {
  for (bool live_events : {false, true}) {
    SCOPED_TRACE(live_events ? "live_workflow_events on" : "live_workflow_events off (default)");
    options_.live_workflow_events = live_events;
    service_.reset();
    start();
    Connection follower(connection_options("live-follower"));
    std::mutex mu;
    std::vector<std::string> seen;
    LiveOptions live;
    live.exchange = options_.topology.live_exchange;
    LiveSubscription sub(
        follower, log_store::Filter::from_params({{"service", service_name_}}).value(),
        [&](const Record& r) {
          std::lock_guard lock(mu);
          seen.push_back(r.message);
        },
        live);
    auto wf = Envelope::make("workflow.step_started", {{"step", "charge"}}, service_name_);
    ASSERT_TRUE(
        client_.publish(messaging::Outgoing{options_.topology.workflow_exchange, wf.type, wf})
            .get()
            .ok());
    ASSERT_TRUE(wonderland::testing::eventually(
        [&] { return service_->stats().workflow_events >= 1; }, 20s));
    // A log record after it: once it is seen, the event would have been seen before it.
    ASSERT_TRUE(
        client_
            .publish(messaging::Outgoing{options_.topology.logs_exchange, "info",
                                         log_envelope(service_name_, Severity::kInfo, "after")})
            .get()
            .ok());
    ASSERT_TRUE(wonderland::testing::eventually(
        [&] {
          std::lock_guard lock(mu);
          return !seen.empty() && seen.back() == "after";
        },
        10s));
    std::lock_guard lock(mu);
    ASSERT_EQ(seen.size(), live_events ? 2U : 1U);
    if (live_events) {
      EXPECT_EQ(seen.front().rfind("workflow.step_started", 0), 0U) << seen.front();
    }
  }
}

TEST_F(LoggingServiceTest, RecordsPublishedWhileStoppedAreStoredAfterARestart) {
  start();
  ASSERT_TRUE(
      client_
          .publish(messaging::Outgoing{options_.topology.logs_exchange, "info",
                                       log_envelope(service_name_, Severity::kInfo, "before")})
          .get()
          .ok());
  ASSERT_TRUE(wait_stored(1, 20s));
  service_->stop();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        client_
            .publish(messaging::Outgoing{
                options_.topology.logs_exchange, "info",
                log_envelope(service_name_, Severity::kInfo, "while stopped " + std::to_string(i))})
            .get()
            .ok());
  }
  start();
  ASSERT_TRUE(wait_stored(100, 20s));
  log_store::Query q;
  q.limit = 1000;
  q.filter.service = service_name_;
  auto page = service_->store().query(q);
  ASSERT_EQ(page.records.size(), 101U);
  EXPECT_EQ(page.records.back().message, "before");
}

TEST_F(LoggingServiceTest, ARedeliveredMessageIsStoredOnce) {
  start();
  Envelope e = log_envelope(service_name_, Severity::kInfo, "only once");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client_.publish(messaging::Outgoing{options_.topology.logs_exchange, "info", e})
                    .get()
                    .ok());
  }
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] { return service_->stats().records + service_->stats().duplicates >= 3; }, 20s));
  EXPECT_EQ(service_->stats().records, 1U);
  EXPECT_EQ(service_->stats().duplicates, 2U);
}

TEST_F(LoggingServiceTest, AMalformedWorkflowBatchIsDeadLetteredWithItsReasonAndTheNextIsStored) {
  start();
  const auto& t = options_.topology;
  auto batch = [](nlohmann::json body) {
    return Envelope::make(kWorkflowBatchType, std::move(body), "mediator");
  };
  nlohmann::json good_events = nlohmann::json::array(
      {{{"workflow_id", "wf-a"}, {"type", "step_succeeded"}, {"step", "reserve"}},
       {{"workflow_id", "wf-b"}, {"type", "completed"}}});
  for (const Envelope& e : {batch({{"events", "not a list"}}), batch(nlohmann::json::array({1, 2})),
                            batch({{"events", good_events}})}) {
    ASSERT_TRUE(
        client_.publish(messaging::Outgoing{t.workflow_exchange, "workflow.events", e}).get().ok());
  }
  ASSERT_TRUE(wait_stored(2, 20s));
  const auto reasons = dead_letter_reasons(t.workflow_queue, 2);
  ASSERT_EQ(reasons.size(), 2U);
  EXPECT_NE(reasons[0].find("body is not an object"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("without an events array"), std::string::npos) << reasons[1];
  EXPECT_EQ(service_->stats().workflow_events, 2U);
  auto page = rpc_query({{"correlation_id", "wf-a"}});
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->records.size(), 1U);
  EXPECT_EQ(page->records[0].message, "workflow.step_succeeded: step=reserve");
}

TEST_F(LoggingServiceTest, ABatchOfRecordsIsStoredOnceEachAndAMalformedOneIsDeadLettered) {
  start();
  const auto& t = options_.topology;
  auto body_of = [&](int i, const std::string& correlation_id) {
    return nlohmann::json{{"timestamp", "2026-12-06T10:00:00.00" + std::to_string(i) + "Z"},
                          {"service", service_name_},
                          {"severity", "warning"},
                          {"correlation_id", correlation_id},
                          {"message", "batched " + std::to_string(i)},
                          {"fields", {{"i", i}}}};
  };
  Envelope good = Envelope::make(
      kRecordBatchType,
      {{"records", {body_of(0, "order-a"), body_of(1, "order-b"), body_of(2, "order-a")}}},
      service_name_);
  // The batch twice (a redelivery), then two that are not batches of records.
  for (const Envelope& e :
       {good, good, Envelope::make(kRecordBatchType, {{"records", "three"}}, service_name_),
        Envelope::make(kRecordBatchType, nlohmann::json::array({1}), service_name_)}) {
    ASSERT_TRUE(client_.publish(messaging::Outgoing{t.logs_exchange, "warning", e}).get().ok());
  }
  const auto reasons = dead_letter_reasons(t.records_queue, 2);
  ASSERT_EQ(reasons.size(), 2U);
  EXPECT_NE(reasons[0].find("body is not an object"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("without a records array"), std::string::npos) << reasons[1];
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] { return service_->stats().records + service_->stats().duplicates >= 6; }, 20s));
  EXPECT_EQ(service_->stats().records, 3U);
  EXPECT_EQ(service_->stats().duplicates, 3U);

  auto page = rpc_query({{"correlation_id", "order-a"}});
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->records.size(), 2U);
  std::set<std::string> messages;
  for (const auto& r : page->records) {
    messages.insert(r.message);
    EXPECT_EQ(r.severity, Severity::kWarning);
    EXPECT_EQ(r.service, service_name_);
  }
  EXPECT_EQ(messages, (std::set<std::string>{"batched 0", "batched 2"}));
}

}  // namespace
}  // namespace wonderland::log_service
