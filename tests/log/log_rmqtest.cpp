// Log forwarding against a real RabbitMQ: records reach the logs exchange with the right
// routing key and body, and logging never waits for a broker that went away.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <future>
#include <optional>
#include <vector>

#include "wonderland/log/amqp_publisher.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::log {
namespace {

using namespace std::chrono_literals;
using messaging::Connection;
using messaging::ConnectionOptions;
using messaging::Envelope;
using messaging::QueueName;
using messaging::RawMessage;
using testing::unique_name;

ConnectionOptions options_for(const std::string& url) {
  ConnectionOptions o;
  o.url = url;
  o.service = "log-rmqtest";
  o.reconnect_min_backoff = 50ms;
  o.reconnect_max_backoff = 500ms;
  return o;
}

// A queue of this test bound to wonderland.logs for `severities`.
QueueName bind_queue(Connection& conn, const std::vector<std::string>& severities) {
  QueueName q{unique_name("log-test")};
  messaging::QueueSpec spec;
  spec.name = q;
  spec.durable = false;
  spec.expires = 60s;  // the broker removes it even if the test dies
  spec.dead_letter_exchange = std::nullopt;
  conn.declare(spec);
  for (const auto& severity : severities) {
    conn.declare(messaging::BindingSpec{q, messaging::exchanges::kLogs, severity});
  }
  return q;
}

// Fetches messages from `q` until `n` arrived or the timeout passed.
std::vector<RawMessage> fetch(Connection& conn, const QueueName& q, std::size_t n,
                              std::chrono::milliseconds timeout = 20s) {
  std::vector<RawMessage> got;
  testing::eventually(
      [&] {
        while (auto m = conn.get(q))
          got.push_back(std::move(*m));
        return got.size() >= n;
      },
      timeout);
  return got;
}

class LogRmqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    init({.service = "log-rmqtest",
          .level = Severity::kDebug,
          .broker = {.retry_min_backoff = 50ms, .retry_max_backoff = 500ms},
          .console = std::make_shared<spdlog::sinks::null_sink_mt>()});
  }
  void TearDown() override { (void)shutdown(5s); }
};

TEST_F(LogRmqTest, RecordsReachTheLogsExchangeRoutedBySeverity) {
  Connection conn(options_for(testing::amqp_url()));
  AmqpLogPublisher::declare(conn);
  const QueueName q = bind_queue(conn, {"warning", "error"});
  const std::string corr = unique_name("flow");

  {
    auto attachment = attach_broker(std::make_shared<AmqpLogPublisher>(conn));
    event(Severity::kWarning, "stock low").corr(corr).field("sku", "A-1").field("left", 3);
    info(Corr{corr}, "routed to info, which this queue does not bind");
    {
      CorrelationScope scope(corr);
      error("payment failed: {}", mask_card("4242 4242 4242 4242"));
    }
    ASSERT_TRUE(flush(20s));
    EXPECT_GE(stats().forwarded, 3u);
  }

  const auto got = fetch(conn, q, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].routing_key, "warning");
  EXPECT_EQ(got[1].routing_key, "error");

  const Envelope warning = Envelope::parse(got[0].body);
  EXPECT_EQ(warning.type, "log.record");
  EXPECT_EQ(warning.source, "log-rmqtest");
  EXPECT_EQ(warning.correlation_id, corr);
  EXPECT_EQ(got[0].message_id, warning.message_id);
  EXPECT_EQ(warning.body["service"], "log-rmqtest");
  EXPECT_EQ(warning.body["severity"], "warning");
  EXPECT_EQ(warning.body["correlation_id"], corr);
  EXPECT_EQ(warning.body["message"], "stock low");
  EXPECT_EQ(warning.body["fields"], (nlohmann::json{{"sku", "A-1"}, {"left", 3}}));
  EXPECT_EQ(warning.body["timestamp"], warning.timestamp);
  EXPECT_TRUE(parse_iso8601(warning.body["timestamp"].get<std::string>()).has_value());

  const Envelope error_record = Envelope::parse(got[1].body);
  EXPECT_EQ(error_record.correlation_id, corr);
  EXPECT_EQ(error_record.body["severity"], "error");
  EXPECT_EQ(error_record.body["message"], "payment failed: **** **** **** 4242");

  EXPECT_FALSE(conn.get(q).has_value()) << "the info record must not be routed here";
  conn.delete_queue(q);
}

TEST_F(LogRmqTest, NeverBlocksWhileTheBrokerIsDownAndCatchesUpAfterwards) {
  testing::PrivateBroker broker;
  init({.service = "log-rmqtest",
        .level = Severity::kDebug,
        .broker = {.queue_capacity = 20,
                   .max_in_flight = 4,
                   .retry_min_backoff = 50ms,
                   .retry_max_backoff = 500ms,
                   .drop_report_interval = 100ms},
        .console = std::make_shared<spdlog::sinks::null_sink_mt>()});
  Connection conn(options_for(broker.url()));
  AmqpLogPublisher::declare(conn);
  const QueueName q = bind_queue(conn, {"info", "warning"});
  // Publishes wait up to their timeout for the broker; a short one keeps the test quick.
  auto attachment = attach_broker(std::make_shared<AmqpLogPublisher>(conn, 2s));

  info("before the outage");
  ASSERT_TRUE(flush(20s));
  const Stats before = stats();

  broker.stop();
  auto logging = std::async(std::launch::async, [] {
    for (int i = 0; i < 200; ++i)
      event(Severity::kInfo, "during the outage").field("i", i);
  });
  ASSERT_EQ(logging.wait_for(10s), std::future_status::ready) << "logging blocked";
  // Every record is accounted for: dropped, waiting in the queue, or in a publish the broker has
  // not answered. At most 20 wait and 4 are in flight (plus one drop report), so at least
  // 200 - 25 are dropped, however the forwarding thread was scheduled.
  const Stats during = stats();
  EXPECT_EQ(during.forwarded, before.forwarded) << "a stopped broker confirmed a record";
  EXPECT_LE(during.queued, 21u);
  EXPECT_LE(during.in_flight, 4u);
  EXPECT_GE(during.dropped + during.queued + during.in_flight, 200u);
  EXPECT_GE(during.dropped, 175u);

  broker.start();
  ASSERT_TRUE(flush(60s));
  const Stats s = stats();
  EXPECT_EQ(s.queued, 0u);

  // The queue (re-declared by the connection after the restart) gets the drop report and the
  // records that were kept; the record from before the outage was lost with the broker.
  const auto got = fetch(conn, q, 2, 30s);
  bool report = false;
  std::size_t kept = 0;
  for (const auto& m : got) {
    const Envelope e = Envelope::parse(m.body);
    if (e.body["fields"].contains("dropped")) {
      report = true;
      EXPECT_EQ(m.routing_key, "warning");
      EXPECT_GE(e.body["fields"]["dropped"].get<std::uint64_t>(), 1u);
    }
    if (e.body["message"] == "during the outage")
      ++kept;
  }
  EXPECT_TRUE(report) << "no drop report among " << got.size() << " records";
  EXPECT_GE(kept, 1u);
  EXPECT_LE(kept, 20u);
}

}  // namespace
}  // namespace wonderland::log
