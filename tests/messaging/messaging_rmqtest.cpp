// The messaging layer against the real RabbitMQ that the test harness starts.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "broker_test_helpers.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/tcp_relay.hpp"

namespace wonderland::messaging {
namespace {

using namespace std::chrono_literals;
using testing::Latch;
using testing::unique_name;

ConnectionOptions options_for(const std::string& url, const std::string& service) {
  ConnectionOptions o;
  o.url = url;
  o.service = service;
  o.reconnect_min_backoff = 50ms;
  o.reconnect_max_backoff = 500ms;
  return o;
}

/// CPU time this process has used, user and system.
double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

class MessagingTest : public ::testing::Test {
 protected:
  MessagingTest() : conn_(options_for(testing::amqp_url(), "messaging-test")) {}

  // The suite's log, for the tests that wait for a line. Installed before the suite's first
  // connection and removed after its last (see test::LogCapture).
  static void SetUpTestSuite() { log_ = std::make_unique<test::LogCapture>(); }
  static void TearDownTestSuite() { log_.reset(); }
  static inline std::unique_ptr<test::LogCapture> log_;

  /// A queue for one test, declared through `on` (the test's connection unless given).
  QueueName temp_queue(const std::string& prefix, Connection* on = nullptr) {
    QueueName q = test::declare_scratch_queue(on != nullptr ? *on : conn_, prefix);
    created_.push_back(q);
    return q;
  }

  ~MessagingTest() override {
    for (const auto& q : created_) {
      try {
        conn_.delete_queue(q);
        conn_.delete_queue(dead_letter_queue_for(q));
      } catch (const std::exception&) {
      }
    }
  }

  Connection conn_;
  std::vector<QueueName> created_;
};

TEST_F(MessagingTest, PublishIsConfirmedAndConsumed) {
  QueueName q = temp_queue("confirm");
  Envelope e = Envelope::make("test.ping", {{"n", 1}});
  Status s = conn_.publish(Outgoing{exchanges::kDefault, q.str(), e}).get();
  ASSERT_TRUE(s.ok()) << s.error().message;

  std::promise<Envelope> got;
  auto consumer = conn_.consume(ConsumerOptions{q, 8, 3, 1},
                                [&](const Envelope& m, const DeliveryInfo&) { got.set_value(m); });
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  Envelope m = f.get();
  EXPECT_EQ(m.message_id, e.message_id);
  EXPECT_EQ(m.source, "messaging-test");
  EXPECT_EQ(m.body["n"], 1);
}

TEST_F(MessagingTest, QueueStatusCountsMessagesAndConsumersAndAMissingQueueHarmsNothing) {
  QueueName q = temp_queue("status");
  Result<QueueStatus> empty = conn_.queue_status(q);
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->messages, 0U);
  EXPECT_EQ(empty->consumers, 0U);
  ASSERT_TRUE(
      conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("t", {})}).get().ok());
  EXPECT_TRUE(testing::eventually([&] { return conn_.message_count(q) == 1; }, 10s));

  // A consumer on another connection counts; its delivery leaves no ready message.
  Connection other(options_for(testing::amqp_url(), "status-consumer"));
  Latch received;
  auto consumer = other.consume(ConsumerOptions{q, 8, 3, 1},
                                [&](const Envelope&, const DeliveryInfo&) { received.add(); });
  ASSERT_TRUE(received.wait_for(1, 10s));
  EXPECT_TRUE(testing::eventually(
      [&] {
        auto s = conn_.queue_status(q);
        return s.ok() && s->consumers == 1 && s->messages == 0;
      },
      10s));

  // A missing queue is not_found, on the inspection channel only: the connection stays up (no
  // reconnect) and keeps consuming, here and on `other` which asks too.
  const auto connects = other.stats().connects;
  Result<QueueStatus> missing = other.queue_status(QueueName{unique_name("missing")});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, codes::kNotFound) << missing.error().message;
  EXPECT_THROW(other.message_count(QueueName{unique_name("missing")}), ErrorException);
  ASSERT_TRUE(
      conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("t", {})}).get().ok());
  EXPECT_TRUE(received.wait_for(2, 10s));
  Result<QueueStatus> again = other.queue_status(q);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->consumers, 1U);
  EXPECT_EQ(other.stats().connects, connects);
  EXPECT_TRUE(other.connected());
}

// A publish's callback and a handler without handler threads run on the I/O thread, which is
// what answers the connection's blocking calls: there they fail at once, instead of stalling the
// connection (its heartbeats, replies and confirms) until their own timeout.
TEST_F(MessagingTest, BlockingCallsOnTheIoThreadFailAtOnce) {
  QueueName q = temp_queue("io-thread");
  // Shared: without the check the callback outlives a failed test, still waiting.
  auto outcome =
      std::make_shared<std::promise<std::pair<Result<QueueStatus>, std::optional<Error>>>>();
  auto done = outcome->get_future();
  conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("t", {})},
                [this, q, outcome](Status) {
                  Result<QueueStatus> status = conn_.queue_status(q, 10s);
                  std::optional<Error> declared;  // none: it returned
                  QueueSpec spec;
                  spec.name = q;
                  spec.durable = false;
                  spec.expires = 60s;
                  try {
                    conn_.declare(spec, 10s);
                  } catch (const ErrorException& e) {
                    declared = e.error();
                  }
                  outcome->set_value({std::move(status), declared});
                });
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  auto [status, declared] = done.get();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, codes::kFailedPrecondition) << status.error().message;
  ASSERT_TRUE(declared.has_value());
  EXPECT_EQ(declared->code, codes::kFailedPrecondition) << declared->message;
  // The same calls from another thread, and the connection, still work.
  EXPECT_TRUE(conn_.queue_status(q).ok());
  EXPECT_TRUE(
      conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("t", {})}).get().ok());
}

TEST_F(MessagingTest, AConsumerTheBrokerCancelsConsumesAgain) {
  // The consumer's connection declares the queue, as a service declares its command queue.
  Connection service(options_for(testing::amqp_url(), "cancelled-consumer"));
  QueueName q = temp_queue("cancelled", &service);
  Latch received;
  auto consumer = service.consume(ConsumerOptions{q, 8, 3, 1},
                                  [&](const Envelope&, const DeliveryInfo&) { received.add(); });
  ASSERT_TRUE(
      conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("t", {})}).get().ok());
  ASSERT_TRUE(received.wait_for(1, 10s));

  // Deleted from elsewhere: the broker cancels the consumer (basic.cancel, which it sends only
  // to a client that announces consumer_cancel_notify) and the connection stays up. The
  // consumer tries again, finds no queue, reconnects, declares its queue again and consumes.
  conn_.delete_queue(q);
  EXPECT_TRUE(testing::eventually(
      [&] {
        auto s = conn_.queue_status(q);
        return s.ok() && s->consumers == 1;
      },
      20s))
      << "nothing consumes from " << q.str() << " after the broker cancelled its consumer";
  ASSERT_TRUE(
      conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("t", {})}).get().ok());
  EXPECT_TRUE(received.wait_for(2, 10s));
}

TEST_F(MessagingTest, AnIdleConnectionKeepsItselfAliveWithItsOwnHeartbeats) {
  // rabbitmq-c's heartbeats are off (its write waits without a time limit): the session sends
  // them. With none, the broker closes a connection silent for two 1 s heartbeat intervals.
  ConnectionOptions o = options_for(testing::amqp_url(), "idle-heartbeats");
  o.heartbeat = 1s;
  Connection idle(o);
  ASSERT_TRUE(idle.wait_connected(10s));
  const double cpu_before = process_cpu_seconds();
  std::this_thread::sleep_for(5s);
  // Half of a 1 s interval is 500 ms, not 0: the I/O thread sleeps between heartbeats.
  EXPECT_LT(process_cpu_seconds() - cpu_before, 1.0) << "the idle connection's thread spins";
  EXPECT_TRUE(idle.connected());
  EXPECT_EQ(idle.stats().connects, 1U) << "the broker dropped the idle connection";
  QueueName q = temp_queue("heartbeats");
  Outgoing m{exchanges::kDefault, q.str(), Envelope::make("test.alive", {})};
  Status s = idle.publish(m).get();
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(idle.stats().connects, 1U);
}

TEST_F(MessagingTest, TheBrokersAnswersToSynchronousCallsCountAsHearingFromIt) {
  // A connection whose only traffic is synchronous calls (the mediator's readiness checks): the
  // broker answers each one, so it sends no heartbeat, and rabbitmq-c reads each answer inside
  // the call, so the socket is never readable when the I/O thread polls it. The answers are
  // still the broker speaking: the connection is not dropped for "missed heartbeats".
  QueueName q = temp_queue("sync-only");
  ConnectionOptions o = options_for(testing::amqp_url(), "sync-only");
  o.heartbeat = 1s;
  Connection checker(o);
  ASSERT_TRUE(checker.wait_connected(10s));
  // Twice the 3 s after which the broker counts as silent (two 1 s intervals and a second).
  const auto until = std::chrono::steady_clock::now() + 6s;
  int answered = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (checker.queue_status(q, 5s).ok())
      ++answered;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GT(answered, 30);
  EXPECT_EQ(checker.stats().connects, 1U) << "the connection was dropped while the broker answered";
}

TEST_F(MessagingTest, ABrokerThatFallsSilentIsLeftAfterTwoHeartbeatIntervals) {
  // The other half of the rule above: the path to the broker breaks without a word (no FIN, no
  // RST), so only the silence tells. The connection is dropped, and the next one, through the
  // same relay, carries a confirmed publish.
  const std::string url = testing::amqp_url();
  testing::TcpRelay relay(testing::port_of(url));
  ConnectionOptions o = options_for(testing::with_port(url, relay.port()), "silent-broker");
  o.heartbeat = 1s;
  Connection conn(o);
  ASSERT_TRUE(conn.wait_connected(10s));
  QueueName q = temp_queue("silent-broker");
  relay.silence_open_connections();
  const auto silenced_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::eventually([&] { return conn.stats().connects >= 2; }, 20s))
      << "the connection to a silent broker was never dropped";
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - silenced_at);
  std::printf("a silent broker was left after %lld ms (1 s heartbeats)\n",
              static_cast<long long>(took.count()));
  // Two intervals and a second, read at least every half interval; the margin is for a busy host.
  EXPECT_LT(took, 10s);
  Status s =
      conn.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("test.alive", {})}).get();
  EXPECT_TRUE(s.ok()) << s.error().message;
}

TEST_F(MessagingTest, TheFirstFailedReconnectAfterALostConnectionIsLogged) {
  // A connection lost soon after it was made does not reset the back-off (it counts as a failed
  // attempt), and only every tenth failed attempt is logged. The first failure after each loss
  // is logged all the same, so that an operator sees at once why the service is not connected.
  test::CapturingSink& log = log_->sink();
  const std::string url = testing::amqp_url();
  auto relay = std::make_unique<testing::TcpRelay>(testing::port_of(url));
  const std::string address = "127.0.0.1:" + std::to_string(relay->port());
  ConnectionOptions o = options_for(testing::with_port(url, relay->port()), "lost-broker");
  o.reconnect_min_backoff = 500ms;
  o.reconnect_max_backoff = 500ms;
  Connection conn(o);
  ASSERT_TRUE(conn.wait_connected(10s));
  relay.reset();  // the connection is closed, and every attempt to connect again is refused
  ASSERT_TRUE(testing::eventually(
      [&] { return log.count({"lost the broker connection to " + address}) >= 1; }, 10s));
  // The first attempt follows after 400-600 ms; the tenth not before 3.6 s.
  EXPECT_TRUE(testing::eventually(
      [&] { return log.count({"cannot connect to the broker at " + address}) >= 1; }, 2500ms))
      << "no failed attempt was logged; the log:\n"
      << log.all();
}

TEST_F(MessagingTest, ADeletedExchangeIsGone) {
  ExchangeName x{unique_name("delete-me")};
  conn_.declare(ExchangeSpec{x, ExchangeType::kDirect, false});
  conn_.delete_exchange(x);
  // The broker refuses another type for an existing exchange: declaring one shows it is gone.
  Connection other(options_for(testing::amqp_url(), "messaging-test-other"));
  EXPECT_NO_THROW(other.declare(ExchangeSpec{x, ExchangeType::kTopic, false}, 10s));
  other.delete_exchange(x);
}

TEST_F(MessagingTest, ThousandConcurrentRpcsAreEachMatchedToTheirRequest) {
  QueueName q{unique_name("rpc")};
  created_.push_back(q);
  Connection server_conn(options_for(testing::amqp_url(), "rpc-server"));
  RpcServer server(
      server_conn, RpcServerOptions{q, 128, 0}, [](const Envelope& req) -> Result<nlohmann::json> {
        return nlohmann::json{{"n", req.body["n"]}, {"double", req.body["n"].get<int>() * 2}};
      });
  RpcClient client(conn_);
  constexpr int kCalls = 1000;
  std::vector<std::future<Result<Envelope>>> replies;
  std::vector<std::string> ids;
  for (int i = 0; i < kCalls; ++i) {
    Envelope req = Envelope::make("test.double", {{"n", i}});
    ids.push_back(req.message_id);
    replies.push_back(client.call(RpcRequest{q, req, 20s, Delivery::kTransient}));
  }
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_EQ(replies[i].wait_for(30s), std::future_status::ready) << "call " << i;
    Result<Envelope> r = replies[i].get();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body["n"], i);
    EXPECT_EQ(r->body["double"], 2 * i);
    EXPECT_EQ(r->causation_id, ids[i]);
    EXPECT_EQ(r->type, "test.double.reply");
  }
}

// A call made while its connection shuts down is answered at once with `cancelled`, as every
// pending operation is, instead of its callback being dropped unanswered (a future then broke
// its promise). Here the caller is a handler, which the shutdown waits for.
TEST_F(MessagingTest, AnRpcCallMadeWhileTheConnectionShutsDownIsCancelledAtOnce) {
  QueueName q = temp_queue("late-call");
  QueueName silent = temp_queue("nobody-answers");
  auto service = std::make_unique<Connection>(options_for(testing::amqp_url(), "late-caller"));
  Connection* during_shutdown = service.get();  // `service` itself is empty while it is destroyed
  std::promise<void> handling;
  std::optional<Result<Envelope>> answer;
  auto consumer =
      service->consume(ConsumerOptions{q, 8, 3, 1}, [&](const Envelope&, const DeliveryInfo&) {
        handling.set_value();
        std::this_thread::sleep_for(300ms);  // meanwhile, the connection begins to shut down
        RpcClient client(*during_shutdown);
        auto reply = client.call(
            RpcRequest{silent, Envelope::make("test.late", {}), 30s, Delivery::kTransient});
        if (reply.wait_for(5s) == std::future_status::ready)
          answer = reply.get();
      });
  ASSERT_TRUE(conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("test.go", {})})
                  .get()
                  .ok());
  ASSERT_EQ(handling.get_future().wait_for(10s), std::future_status::ready);
  const auto shutting_down = std::chrono::steady_clock::now();
  service.reset();  // waits for the handler
  const auto took = std::chrono::steady_clock::now() - shutting_down;
  ASSERT_TRUE(answer.has_value()) << "the call made during the shutdown was never answered";
  ASSERT_FALSE(answer->ok());
  EXPECT_EQ(answer->error().code, codes::kCancelled) << answer->error().message;
  EXPECT_LT(took, 3s);
}

// A reply goes out on the channel that is not in confirm mode: the broker sends no confirm back
// for it, while the server's own publishes on the same connection are still confirmed.
TEST_F(MessagingTest, RpcRepliesGoOutUnconfirmedAndOtherPublishesStayConfirmed) {
  QueueName q{unique_name("rpc-unconfirmed")};
  created_.push_back(q);
  QueueName events = temp_queue("rpc-unconfirmed-events");
  Connection server_conn(options_for(testing::amqp_url(), "rpc-server"));
  ASSERT_TRUE(server_conn.options().publisher_confirms);
  RpcServer server(server_conn, RpcServerOptions{q, 8, 0},
                   [](const Envelope& req) -> Result<nlohmann::json> { return req.body; });
  RpcClient client(conn_);
  constexpr int kCalls = 20;
  for (int i = 0; i < kCalls; ++i) {
    Result<Envelope> r =
        client.call(RpcRequest{q, Envelope::make("test.echo", {{"n", i}}), 10s}).get();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body["n"], i);
  }
  Status s =
      server_conn.publish(Outgoing{exchanges::kDefault, events.str(), Envelope::make("t", {})})
          .get();
  ASSERT_TRUE(s.ok()) << s.error().message;

  ConnectionStats stats = server_conn.stats();
  EXPECT_EQ(stats.unconfirmed, static_cast<std::uint64_t>(kCalls));
  EXPECT_EQ(stats.confirmed, 1u);
  EXPECT_EQ(stats.published, static_cast<std::uint64_t>(kCalls) + 1);
  EXPECT_EQ(conn_.stats().unconfirmed, 0u);  // the requests were confirmed
}

TEST_F(MessagingTest, ErrorRepliesArriveAsValues) {
  QueueName q{unique_name("rpc-error")};
  created_.push_back(q);
  RpcServer server(conn_, RpcServerOptions{q, 8, 1}, [](const Envelope&) -> Result<nlohmann::json> {
    return Error::of(codes::kFailedPrecondition, "card declined");
  });
  RpcClient client(conn_);
  Result<Envelope> r = client.call(RpcRequest{q, Envelope::make("payment.charge", {}), 10s}).get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), (Error{codes::kFailedPrecondition, "card declined", false}));
}

// With handler threads, the requests `on_io_thread` picks are handled on the I/O thread: they
// are answered while every handler thread is busy, and all on one thread that no other request
// runs on.
TEST_F(MessagingTest, RequestsPickedForTheIoThreadAreAnsweredWhileEveryHandlerThreadIsBusy) {
  QueueName q{unique_name("rpc-io-thread")};
  created_.push_back(q);
  Connection server_conn(options_for(testing::amqp_url(), "rpc-server"));
  std::mutex mu;
  std::set<std::thread::id> fast_threads;
  std::set<std::thread::id> slow_threads;
  Latch slow_started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  RpcServerOptions options{q, 16, 2};
  options.on_io_thread = [](const Envelope& request) { return request.type == "test.fast"; };
  RpcServer server(server_conn, options, [&](const Envelope& req) -> Result<nlohmann::json> {
    if (req.type == "test.slow") {
      {
        std::lock_guard lock(mu);
        slow_threads.insert(std::this_thread::get_id());
      }
      slow_started.add();
      released.wait_for(20s);
    } else {
      std::lock_guard lock(mu);
      fast_threads.insert(std::this_thread::get_id());
    }
    return req.body;
  });
  RpcClient client(conn_);
  std::vector<std::future<Result<Envelope>>> slow;
  for (int i = 0; i < 2; ++i)
    slow.push_back(client.call(RpcRequest{q, Envelope::make("test.slow", {{"n", i}}), 30s}));
  ASSERT_TRUE(slow_started.wait_for(2, 10s));  // both handler threads are now held

  for (int i = 0; i < 10; ++i) {
    Result<Envelope> r =
        client.call(RpcRequest{q, Envelope::make("test.fast", {{"n", i}}), 5s}).get();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body["n"], i);
  }
  release.set_value();
  for (auto& f : slow) {
    Result<Envelope> r = f.get();
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  std::lock_guard lock(mu);
  ASSERT_EQ(fast_threads.size(), 1u);
  EXPECT_EQ(slow_threads.size(), 2u);
  EXPECT_EQ(slow_threads.count(*fast_threads.begin()), 0u);
}

TEST_F(MessagingTest, ARequestWhoseReplyTheBrokerCannotRouteIsHandledOnce) {
  // A direct reply-to address of a node that is not in the cluster, as the requests of a caller
  // that was connected to a node that died carry. RabbitMQ 3.10 closes the replying connection
  // (541 INTERNAL_ERROR) when it routes a reply there; later versions drop the reply.
  const std::string dead_node_reply_to =
      "amq.rabbitmq.reply-to.g1h2AA9yZXBseUAxMDAyMjA0ODQAAAXtAAAAAGsUxLo=.EqVqihet8N0aHqXxV8pggg==";
  QueueName q{unique_name("rpc-dead-caller")};
  created_.push_back(q);
  Connection server_conn(options_for(testing::amqp_url(), "rpc-server"));
  std::atomic<int> handled{0};
  RpcServer server(server_conn, RpcServerOptions{q, 8, 1},
                   [&](const Envelope& req) -> Result<nlohmann::json> {
                     if (req.type == "test.orphan")
                       ++handled;
                     return req.body;
                   });
  Outgoing orphan{exchanges::kDefault, q.str(), Envelope::make("test.orphan", {})};
  orphan.reply_to = dead_node_reply_to;
  orphan.rpc_correlation_id = "orphan";
  ASSERT_TRUE(conn_.publish(std::move(orphan)).get().ok());
  ASSERT_TRUE(testing::eventually([&] { return handled.load() >= 1; }, 10s));

  // The request was acknowledged before its reply went out: whatever the reply did to the
  // connection, the request is not delivered again (before, every redelivery crashed the next
  // connection until the request ran out of attempts). A live caller is answered as before.
  RpcClient client(conn_);
  Result<Envelope> r =
      client.call(RpcRequest{q, Envelope::make("test.live", {{"n", 1}}), 10s}).get();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body["n"], 1);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(handled.load(), 1);
  EXPECT_EQ(server_conn.stats().dead_lettered, 0u);
}

TEST_F(MessagingTest, UnansweredRequestTimesOutWithAClearError) {
  QueueName q = temp_queue("nobody-home");
  RpcClient client(conn_);
  auto start = std::chrono::steady_clock::now();
  Result<Envelope> r = client.call(RpcRequest{q, Envelope::make("test.silence", {}), 300ms}).get();
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kDeadlineExceeded);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(r.error().message, "no reply within 300 ms");
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 5s);
}

/// Declares `q` as an RpcServer does (with its limit), then stops serving it: requests stay queued.
void declare_unserved_command_queue(const QueueName& q, std::int64_t max_length) {
  Connection server_conn(options_for(testing::amqp_url(), "rpc-server"));
  RpcServerOptions options{q, 8, 1};
  options.max_length = max_length;
  RpcServer server(server_conn, options, [](const Envelope&) -> Result<nlohmann::json> {
    return nlohmann::json::object();
  });
}

TEST_F(MessagingTest, ARequestWhoseCallerGaveUpIsDroppedFromTheQueue) {
  QueueName q{unique_name("expiring")};
  created_.push_back(q);
  declare_unserved_command_queue(q, 100);
  RpcClient client(conn_);
  // The broker expires messages at the head of a queue. A request with a long timeout behind
  // the short one stays: only expired requests are dropped.
  auto hasty = client.call(RpcRequest{q, Envelope::make("test.hasty", {}), 300ms});
  auto patient = client.call(RpcRequest{q, Envelope::make("test.patient", {}), 30s});
  Result<Envelope> r = hasty.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kDeadlineExceeded);
  // The broker drops the request once its caller's timeout has passed, instead of keeping it
  // for a consumer that would work on it for nobody.
  EXPECT_TRUE(testing::eventually([&] { return conn_.message_count(q) == 1; }, 10s))
      << conn_.message_count(q) << " messages left";
  Connection inspector(options_for(testing::amqp_url(), "inspector"));
  auto left = inspector.get(q);
  ASSERT_TRUE(left.has_value());
  EXPECT_NE(left->body.find("test.patient"), std::string::npos);
  EXPECT_FALSE(inspector.get(dead_letter_queue_for(q)).has_value())
      << "expired requests are not dead letters";
}

TEST_F(MessagingTest, AServerSkipsARequestThatExpiredWhileItWaitedForAHandler) {
  QueueName q{unique_name("busy-server")};
  created_.push_back(q);
  Connection server_conn(options_for(testing::amqp_url(), "rpc-server"));
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> hasty_handled{0};
  Latch slow_started;
  // One handler thread, busy with a slow request while the next one waits behind it in the
  // server's process (delivered, not yet handled).
  RpcServer server(server_conn, RpcServerOptions{q, 8, 1},
                   [&](const Envelope& req) -> Result<nlohmann::json> {
                     if (req.type == "test.slow") {
                       slow_started.add();
                       released.wait();
                     } else if (req.type == "test.hasty") {
                       ++hasty_handled;
                     }
                     return nlohmann::json::object();
                   });
  RpcClient client(conn_);
  auto slow = client.call(RpcRequest{q, Envelope::make("test.slow", {}), 30s});
  ASSERT_TRUE(slow_started.wait_for(1, 10s));
  auto hasty_call = client.call(RpcRequest{q, Envelope::make("test.hasty", {}), 300ms});
  // The server counts the request's time from its arrival (its second delivery), a little after
  // it was sent: that must run out too before the handler thread comes free.
  ASSERT_TRUE(testing::eventually([&] { return server_conn.stats().delivered >= 2; }, 10s));
  auto expired_on_server = std::chrono::steady_clock::now() + 300ms;
  Result<Envelope> hasty = hasty_call.get();
  ASSERT_FALSE(hasty.ok());
  EXPECT_EQ(hasty.error().code, codes::kDeadlineExceeded);
  ASSERT_TRUE(testing::eventually(
      [&] { return std::chrono::steady_clock::now() >= expired_on_server; }, 10s));
  auto probe = client.call(RpcRequest{q, Envelope::make("test.probe", {}), 30s});
  release.set_value();
  ASSERT_EQ(slow.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(slow.get().ok());
  // The probe came after the expired request on the same handler thread: once it is answered,
  // the expired one has been dealt with, without running its handler.
  ASSERT_EQ(probe.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(probe.get().ok());
  EXPECT_EQ(hasty_handled.load(), 0);
}

TEST_F(MessagingTest, AFullCommandQueueFailsTheNextCallAtOnce) {
  QueueName q{unique_name("full-commands")};
  created_.push_back(q);
  declare_unserved_command_queue(q, 2);
  RpcClient client(conn_);
  auto first =
      client.call(RpcRequest{q, Envelope::make("test.queued", {}), 30s, Delivery::kTransient});
  auto second =
      client.call(RpcRequest{q, Envelope::make("test.queued", {}), 30s, Delivery::kTransient});
  ASSERT_TRUE(testing::eventually([&] { return conn_.message_count(q) == 2; }, 10s));
  auto start = std::chrono::steady_clock::now();
  Result<Envelope> r =
      client.call(RpcRequest{q, Envelope::make("test.refused", {}), 30s, Delivery::kTransient})
          .get();
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kUnavailable);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(r.error().message, "the " + q.str() + " queue is full; try again");
  EXPECT_LT(waited, 5s) << "the caller must not wait for its timeout";
  EXPECT_EQ(conn_.message_count(q), 2U);
  EXPECT_EQ(first.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(second.wait_for(0s), std::future_status::timeout);
}

TEST_F(MessagingTest, ACommandQueueLeftWithOtherArgumentsIsUsedAsItIs) {
  // An older version declared the queue without a limit; the broker refuses to change it.
  QueueName q{unique_name("old-commands")};
  created_.push_back(q);
  conn_.declare(QueueSpec{q});
  Connection server_conn(options_for(testing::amqp_url(), "rpc-server"));
  RpcServerOptions options{q, 8, 1};
  options.max_length = 5;
  RpcServer server(server_conn, options, [](const Envelope& req) -> Result<nlohmann::json> {
    return nlohmann::json{{"echo", req.body["n"]}};
  });
  RpcClient client(conn_);
  Result<Envelope> r =
      client.call(RpcRequest{q, Envelope::make("test.echo", {{"n", 7}}), 10s}).get();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body["echo"], 7);
  // Another declaration that does not accept the existing arguments is still refused.
  QueueSpec strict{q};
  strict.max_length = 5;
  try {
    conn_.declare(strict);
    ADD_FAILURE() << "declaring other arguments must be refused";
  } catch (const ErrorException& e) {
    EXPECT_EQ(e.error().code, codes::kFailedPrecondition);
  }
}

TEST_F(MessagingTest, QuorumTypeAppliesToDurableSharedQueuesOnly) {
  ConnectionOptions o = options_for(testing::amqp_url(), "messaging-test-quorum");
  o.queue_type = QueueType::kQuorum;
  Connection quorum(o);
  // A durable shared queue becomes a quorum queue, with the arguments this library uses.
  QueueName durable{unique_name("test.quorum")};
  QueueSpec spec{durable};
  spec.max_length = 100;
  spec.reject_publish_when_full = true;
  spec.message_ttl = 60s;
  spec.expires = 60s;
  quorum.declare(spec);
  created_.push_back(durable);
  ASSERT_TRUE(
      quorum
          .publish(Outgoing{exchanges::kDefault, durable.str(), Envelope::make("test.quorum", {})})
          .get()
          .ok());
  EXPECT_TRUE(testing::eventually([&] { return quorum.message_count(durable) == 1; }, 10s));
  // An exclusive, auto-delete one stays classic (a quorum queue cannot be either).
  QueueSpec own{QueueName{unique_name("test.own")}};
  own.durable = false;
  own.exclusive = true;
  own.auto_delete = true;
  EXPECT_NO_THROW(quorum.declare(own));
  // The same durable queue declared as classic is refused, saying why.
  try {
    conn_.declare(
        QueueSpec{durable, true, false, false, exchanges::kDeadLetter, 100, true, 60s, 60s});
    ADD_FAILURE() << "a quorum queue redeclared as classic must be refused";
  } catch (const ErrorException& e) {
    EXPECT_EQ(e.error().code, codes::kFailedPrecondition);
    EXPECT_NE(e.error().message.find("exists as a quorum queue"), std::string::npos)
        << e.error().message;
  }
}

TEST_F(MessagingTest, ClassicQueueRedeclaredAsQuorumIsAClearError) {
  QueueName q{unique_name("test.classic")};
  QueueSpec spec{q};
  spec.expires = 60s;
  conn_.declare(spec);
  created_.push_back(q);
  ConnectionOptions o = options_for(testing::amqp_url(), "messaging-test-quorum");
  o.queue_type = QueueType::kQuorum;
  Connection quorum(o);
  try {
    quorum.declare(spec);
    ADD_FAILURE() << "a classic queue redeclared as quorum must be refused";
  } catch (const ErrorException& e) {
    EXPECT_EQ(e.error().code, codes::kFailedPrecondition);
    EXPECT_NE(e.error().message.find("exists as a classic queue"), std::string::npos)
        << e.error().message;
    EXPECT_NE(e.error().message.find("WONDERLAND_AMQP_QUEUE_TYPE=quorum"), std::string::npos)
        << e.error().message;
  }
}

TEST(CommandQueueLimitTest, ComesFromTheEnvironment) {
  ::unsetenv("WONDERLAND_COMMAND_QUEUE_MAX_LENGTH");
  EXPECT_EQ(RpcServerOptions::max_length_from_env(), 10000);
  ::setenv("WONDERLAND_COMMAND_QUEUE_MAX_LENGTH", "0", 1);
  EXPECT_EQ(RpcServerOptions::max_length_from_env(), 0);
  ::setenv("WONDERLAND_COMMAND_QUEUE_MAX_LENGTH", "-1", 1);
  EXPECT_THROW(RpcServerOptions::max_length_from_env(), std::invalid_argument);
  ::unsetenv("WONDERLAND_COMMAND_QUEUE_MAX_LENGTH");
}

TEST_F(MessagingTest, MalformedMessageIsDeadLetteredAndTheConsumerKeepsServing) {
  QueueName q = temp_queue("poison");
  Connection inspector(options_for(testing::amqp_url(), "inspector"));
  std::vector<std::string> seen;
  std::mutex mu;
  Latch handled;
  auto consumer =
      conn_.consume(ConsumerOptions{q, 8, 3, 1}, [&](const Envelope& m, const DeliveryInfo&) {
        std::lock_guard lock(mu);
        seen.push_back(m.type);
        handled.add();
      });
  Outgoing poison{exchanges::kDefault, q.str(), Envelope::make("test.poison", {})};
  poison.raw_body = "{this is not json";
  ASSERT_TRUE(conn_.publish(poison).get().ok());
  ASSERT_TRUE(conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("test.good", {})})
                  .get()
                  .ok());
  ASSERT_TRUE(handled.wait_for(1, 10s));

  std::optional<RawMessage> dead;
  ASSERT_TRUE(testing::eventually(
      [&] { return (dead = inspector.get(dead_letter_queue_for(q))).has_value(); }, 10s));
  EXPECT_EQ(dead->body, "{this is not json");
  EXPECT_EQ(dead->string_headers["x-wonderland-reason"],
            "malformed message: body is not valid JSON");
  EXPECT_EQ(dead->string_headers["x-wonderland-queue"], q.str());
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, std::vector<std::string>{"test.good"});
}

TEST_F(MessagingTest, DeeplyNestedMessageIsDeadLetteredBeforeItIsParsed) {
  QueueName q = temp_queue("nested");
  Connection inspector(options_for(testing::amqp_url(), "inspector"));
  std::vector<std::string> seen;
  std::mutex mu;
  Latch handled;
  auto consumer =
      conn_.consume(ConsumerOptions{q, 8, 3, 1}, [&](const Envelope& m, const DeliveryInfo&) {
        std::lock_guard lock(mu);
        seen.push_back(m.type);
        handled.add();
      });
  // A well-formed envelope whose body nests 200,000 arrays: refused by the depth limit.
  Outgoing nested{exchanges::kDefault, q.str(), Envelope::make("test.nested", {})};
  const std::string prefix = R"({"message_id":"m-1","type":"test.nested","body":{"x":)";
  nested.raw_body = prefix + std::string(200'000, '[') + std::string(200'000, ']') + "}}";
  ASSERT_TRUE(conn_.publish(nested).get().ok());
  ASSERT_TRUE(conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("test.good", {})})
                  .get()
                  .ok());
  ASSERT_TRUE(handled.wait_for(1, 10s));

  std::optional<RawMessage> dead;
  ASSERT_TRUE(testing::eventually(
      [&] { return (dead = inspector.get(dead_letter_queue_for(q))).has_value(); }, 10s));
  EXPECT_EQ(dead->body.size(), nested.raw_body->size());
  EXPECT_EQ(dead->string_headers["x-wonderland-reason"],
            "malformed message: envelope: nesting depth exceeds the limit of 128 (at byte " +
                std::to_string(prefix.size() + 126) + ")");
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, std::vector<std::string>{"test.good"});
}

TEST_F(MessagingTest, FailingHandlerIsRetriedThenDeadLetteredWithItsReason) {
  QueueName q = temp_queue("failing");
  Connection inspector(options_for(testing::amqp_url(), "inspector"));
  std::atomic<int> attempts{0};
  std::atomic<int> flaky_attempts{0};
  Latch flaky_done;
  auto consumer =
      conn_.consume(ConsumerOptions{q, 8, 3, 1}, [&](const Envelope& m, const DeliveryInfo& info) {
        if (m.type == "test.flaky") {
          if (++flaky_attempts == 1)
            throw std::runtime_error("transient glitch");
          EXPECT_EQ(info.attempt, 2);
          flaky_done.add();
          return;
        }
        ++attempts;
        throw std::runtime_error("database is on fire");
      });
  ASSERT_TRUE(
      conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("test.doomed", {})})
          .get()
          .ok());
  ASSERT_TRUE(
      conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("test.flaky", {})})
          .get()
          .ok());
  ASSERT_TRUE(flaky_done.wait_for(1, 10s));
  std::optional<RawMessage> dead;
  ASSERT_TRUE(testing::eventually(
      [&] { return (dead = inspector.get(dead_letter_queue_for(q))).has_value(); }, 15s));
  EXPECT_EQ(attempts.load(), 3);
  EXPECT_EQ(flaky_attempts.load(), 2);
  EXPECT_EQ(dead->string_headers["x-wonderland-reason"],
            "failed 3 attempt(s); last error: database is on fire");
  EXPECT_EQ(dead->int_headers["x-wonderland-attempt"], 3);
  EXPECT_FALSE(inspector.get(dead_letter_queue_for(q)).has_value());
}

TEST_F(MessagingTest, PublishTheBrokerDoesNotConfirmIsAnError) {
  // A full queue that rejects publishes makes the broker answer with basic.nack.
  QueueName q{unique_name("full")};
  QueueSpec spec;
  spec.name = q;
  spec.durable = false;
  spec.expires = 60s;
  spec.max_length = 1;
  spec.reject_publish_when_full = true;
  conn_.declare(spec);
  created_.push_back(q);
  ASSERT_TRUE(
      conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("a", {})}).get().ok());
  Status refused =
      conn_.publish(Outgoing{exchanges::kDefault, q.str(), Envelope::make("b", {})}).get();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, codes::kUnavailable);
  EXPECT_EQ(refused.error().message, "the " + q.str() + " queue is full; try again");
  EXPECT_TRUE(refused.error().retryable);

  // A mandatory message that no queue takes is returned, and that is an error too.
  Outgoing nowhere{exchanges::kDefault, unique_name("no-such-queue"), Envelope::make("c", {})};
  nowhere.mandatory = true;
  Status returned = conn_.publish(nowhere).get();
  ASSERT_FALSE(returned.ok());
  EXPECT_NE(returned.error().message.find("no queue is bound"), std::string::npos);
  EXPECT_EQ(conn_.stats().publish_failures, 2u);
}

TEST_F(MessagingTest, TopicSubscriptionReceivesMatchingEventsOnly) {
  ExchangeName ex{unique_name("events")};
  QueueName q{unique_name("subscriber")};
  created_.push_back(q);
  Latch got;
  std::vector<std::string> keys;
  std::mutex mu;
  auto sub = subscribe(conn_, Subscription{ex, ExchangeType::kTopic, q, {"order.*"}, 8, 3, 1},
                       [&](const Envelope& e, const DeliveryInfo& info) {
                         std::lock_guard lock(mu);
                         keys.push_back(info.routing_key + "/" + e.type);
                         got.add();
                       });
  ASSERT_TRUE(
      publish_event(conn_, ex, "customer.signed_up", Envelope::make("customer.signed_up", {}))
          .get()
          .ok());
  ASSERT_TRUE(publish_event(conn_, ex, "order.confirmed", Envelope::make("order.confirmed", {}))
                  .get()
                  .ok());
  ASSERT_TRUE(got.wait_for(1, 10s));
  sub.cancel();
  std::lock_guard lock(mu);
  EXPECT_EQ(keys, std::vector<std::string>{"order.confirmed/order.confirmed"});
}

TEST(MessagingFaultTest, BrokerRestartMidStreamReconnectsAndRedeclares) {
  testing::PrivateBroker broker;
  Connection server_conn(options_for(broker.url(), "restart-server"));
  Connection client_conn(options_for(broker.url(), "restart-client"));
  QueueName q{unique_name("restart")};
  RpcServer server(server_conn, RpcServerOptions{q, 16, 1},
                   [](const Envelope& req) -> Result<nlohmann::json> { return req.body; });
  // A transient, auto-deleted queue exists only as long as the connection re-declares it.
  QueueName side{unique_name("side")};
  QueueSpec side_spec;
  side_spec.name = side;
  side_spec.durable = false;
  client_conn.declare(side_spec);
  RpcClient client(client_conn);
  auto call = [&](int n) {
    return client.call(RpcRequest{q, Envelope::make("test.echo", {{"n", n}}), 3s}).get();
  };
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(call(i).ok()) << i;

  // Calls in flight while the broker goes away fail with retryable errors, never hang.
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::thread stream([&] {
    for (int i = 0; !stop; ++i) {
      auto r = call(i);
      if (!r.ok()) {
        EXPECT_TRUE(r.error().retryable) << r.error().message;
        ++failed;
      }
    }
  });
  broker.stop();
  ASSERT_TRUE(testing::eventually([&] { return !client_conn.connected(); }, 20s));
  broker.start();
  ASSERT_TRUE(client_conn.wait_connected(30s));
  ASSERT_TRUE(server_conn.wait_connected(30s));
  // Later calls succeed (the server re-subscribed after its own reconnect).
  bool recovered = testing::eventually([&] { return call(-1).ok(); }, 30s);
  stop = true;
  stream.join();
  ASSERT_TRUE(recovered);
  EXPECT_GT(failed.load(), 0);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(call(100 + i).ok()) << i;
  EXPECT_GE(client_conn.stats().connects, 2u);
  Outgoing to_side{exchanges::kDefault, side.str(), Envelope::make("test.side", {})};
  to_side.mandatory = true;
  Status s = client_conn.publish(to_side).get();
  EXPECT_TRUE(s.ok()) << "the transient queue was not declared again: " << s.error().message;
}

TEST(MessagingFaultTest, ABrokerThatStopsReadingCostsAReconnectNotAStuckConnection) {
  testing::PrivateBroker broker;
  ConnectionOptions o = options_for(broker.url(), "alarm-publisher");
  o.connect_timeout = 1s;  // also how long a write waits for room in the socket
  // A heartbeat is due during every wait: rabbitmq-c's heartbeat write, which had no time limit,
  // held the I/O thread for as long as the alarm whenever it found the socket full.
  o.heartbeat = 1s;
  Connection conn(o);
  QueueName q{unique_name("alarm")};
  QueueSpec spec;
  spec.name = q;
  conn.declare(spec);
  broker.memory_alarm(true);
  // Far more than the socket buffers hold, and the broker reads none of it during the alarm.
  auto sent = test::publish_mebibytes(conn, q, 32, 120s);
  // The write that finds no room gives up after its time-out and the connection starts again,
  // and again on the next connection, which sends the unconfirmed messages again; rabbitmq-c's
  // own writes waited on the socket, with the I/O thread, for as long as the alarm.
  EXPECT_TRUE(testing::eventually([&] { return conn.stats().connects >= 3; }, 30s))
      << "connections: " << conn.stats().connects;
  broker.memory_alarm(false);
  test::expect_confirmed_and_queued(conn, q, sent);
}

TEST(MessagingFaultTest, PublishWaitsForTheBrokerUntilItsDeadline) {
  ConnectionOptions o = options_for("amqp://guest:guest@127.0.0.1:1/", "unreachable");
  Connection conn(o);
  Outgoing m{exchanges::kEvents, "x", Envelope::make("x", {})};
  m.timeout = 300ms;
  Status s = conn.publish(m).get();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, codes::kDeadlineExceeded);
  EXPECT_FALSE(conn.connected());
}

}  // namespace
}  // namespace wonderland::messaging
