// A three-node RabbitMQ cluster of its own (scripts/infra.sh, WONDERLAND_RABBITMQ_NODES=3) with
// quorum queues: the node the clients are connected to is killed (SIGKILL) in the middle of a
// stream of events and RPCs. Nothing confirmed is lost, every event is handled once by id, the
// clients move to a live node within a bound, and no RPC hangs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::messaging {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::port_of;
using testing::unique_name;

constexpr int kNodes = 3;
/// How long a client may take to be connected to a live node after its node was killed.
constexpr auto kReconnectBound = 10s;
constexpr auto kRpcTimeout = 8s;

ConnectionOptions cluster_options(const std::string& urls, const std::string& service) {
  ConnectionOptions o;
  o.url = urls;
  o.queue_type = QueueType::kQuorum;
  o.service = service;
  o.reconnect_min_backoff = 50ms;
  o.reconnect_max_backoff = 1000ms;
  return o;
}

/// What the event consumer saw: every delivery, and the ids handled (a redelivered id is
/// recognised and not handled again).
struct Handled {
  std::mutex mu;
  std::set<std::string> ids;
  int deliveries = 0;
  int duplicates = 0;

  void deliver(const std::string& id) {
    std::lock_guard lock(mu);
    ++deliveries;
    if (!ids.insert(id).second)
      ++duplicates;
  }
  bool has_all(const std::set<std::string>& wanted) {
    std::lock_guard lock(mu);
    for (const auto& id : wanted) {
      if (ids.count(id) == 0)
        return false;
    }
    return true;
  }
};

/// The outcome of every publish, by message id.
struct Published {
  std::mutex mu;
  std::map<std::string, Status> outcome;
  std::atomic<int> pending{0};
};

TEST(ClusterTest, KillingTheConnectedNodeLosesNothingAndClientsMoveOn) {
  auto t_start = Clock::now();
  testing::PrivateCluster cluster(kNodes);
  auto t_cluster = Clock::now();
  std::cerr << "cluster of " << kNodes << " nodes up after "
            << std::chrono::duration_cast<std::chrono::seconds>(t_cluster - t_start).count()
            << " s: " << cluster.urls() << "\n";

  // Declared before the connections: a publish still pending when an ASSERT ends the test early
  // completes (cancelled) inside ~Connection, and its callback writes here.
  Published published;
  Connection server(cluster_options(cluster.urls(), "cluster-server"));
  Connection client(cluster_options(cluster.urls(), "cluster-client"));
  ASSERT_TRUE(server.wait_connected(30s));
  ASSERT_TRUE(client.wait_connected(30s));

  // Events: a durable (quorum) queue bound to a topic exchange.
  ExchangeName exchange{unique_name("cluster.events")};
  QueueName events{unique_name("cluster.events.q")};
  Handled handled;
  auto sub = subscribe(
      server, Subscription{exchange, ExchangeType::kTopic, events, {"#"}, 64, 5, 1},
      [&handled](const Envelope& e, const DeliveryInfo&) { handled.deliver(e.message_id); });
  // RPCs: a durable (quorum) command queue and its server.
  QueueName commands{unique_name("cluster.commands")};
  std::atomic<int> served{0};
  RpcServer rpc_server(server, RpcServerOptions{commands, 16, 1, 0},
                       [&served](const Envelope& request) -> Result<nlohmann::json> {
                         ++served;
                         return nlohmann::json{{"echo", request.body}};
                       });
  RpcClient rpc(client);

  // Stream events and RPCs until told to stop. A jthread is stopped and joined when an ASSERT
  // ends the test early.
  std::jthread publisher([&](const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      Envelope e = Envelope::make("cluster.tick", nlohmann::json{{"n", 1}}, "cluster-client");
      std::string id = e.message_id;
      ++published.pending;
      Outgoing out{exchange, "tick", std::move(e)};
      out.timeout = 20s;
      client.publish(std::move(out), [&published, id](Status s) {
        {
          std::lock_guard lock(published.mu);
          published.outcome.insert_or_assign(id, std::move(s));
        }
        --published.pending;
      });
      std::this_thread::sleep_for(5ms);
    }
  });
  struct RpcOutcome {
    bool hung = false;
    std::optional<Code> error;  ///< nullopt: answered
    std::string message;
    std::chrono::milliseconds took{};
  };
  std::mutex rpc_mu;
  std::vector<RpcOutcome> rpc_outcomes;
  std::jthread caller([&](const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      auto t0 = Clock::now();
      auto reply =
          rpc.call(RpcRequest{commands, Envelope::make("cluster.echo", {{"x", 1}}), kRpcTimeout});
      RpcOutcome o;
      if (reply.wait_for(kRpcTimeout + 5s) != std::future_status::ready) {
        o.hung = true;
      } else if (auto r = reply.get(); !r.ok()) {
        o.error = r.error().code;
        o.message = r.error().message;
      }
      o.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
      {
        std::lock_guard lock(rpc_mu);
        rpc_outcomes.push_back(o);
      }
      std::this_thread::sleep_for(20ms);
    }
  });

  // Let the stream run, then kill the node the client is connected to.
  std::this_thread::sleep_for(1500ms);
  std::string before = client.broker_address();
  int victim = cluster.node_at(port_of(before));
  ASSERT_GE(victim, 0) << before;
  int server_node = cluster.node_at(port_of(server.broker_address()));
  auto killed_at = Clock::now();
  cluster.kill_node(victim);
  // The clients notice at once (the socket closes) and connect to another node.
  std::string after;
  ASSERT_TRUE(testing::eventually(
      [&] {
        after = client.broker_address();
        return !after.empty() && after != before;
      },
      kReconnectBound))
      << "the client did not reconnect to another node within "
      << std::chrono::duration_cast<std::chrono::seconds>(kReconnectBound).count() << " s";
  auto reconnect = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at);
  std::cerr << "killed node " << victim << " (" << before << "); client reconnected to " << after
            << " after " << reconnect.count() << " ms\n";
  EXPECT_LT(reconnect, kReconnectBound);
  if (server_node == victim) {
    ASSERT_TRUE(testing::eventually(
        [&] {
          auto a = server.broker_address();
          return !a.empty() && a != before;
        },
        kReconnectBound));
  }

  // Keep streaming on the surviving nodes, then stop and let every publish complete.
  std::this_thread::sleep_for(2s);
  publisher.request_stop();
  caller.request_stop();
  publisher.join();
  caller.join();
  ASSERT_TRUE(testing::eventually([&] { return published.pending == 0; }, 30s))
      << published.pending << " publishes never completed";

  // A publish that failed is retried with the same id, as a producer would.
  std::set<std::string> confirmed;
  std::vector<std::string> to_retry;
  {
    std::lock_guard lock(published.mu);
    std::map<std::string, int> failures;
    for (const auto& [id, s] : published.outcome) {
      if (s.ok()) {
        confirmed.insert(id);
      } else {
        EXPECT_TRUE(s.error().retryable) << s.error().message;
        ++failures[s.error().message];
        to_retry.push_back(id);
      }
    }
    for (const auto& [why, n] : failures)
      std::cerr << n << " publishes failed: " << why << "\n";
  }
  // A publish that failed (none should: they are sent again after the reconnect) would be
  // retryable; it is retried, with a back-off, for a bounded time, as a producer would.
  auto retry_until = Clock::now() + 30s;
  for (const auto& id : to_retry) {
    Status s = Error::of(codes::kUnavailable, "not sent");
    while (!s.ok() && Clock::now() < retry_until) {
      Envelope e = Envelope::make("cluster.tick", nlohmann::json{{"n", 1}}, "cluster-client");
      e.message_id = id;
      s = client.publish(Outgoing{exchange, "tick", std::move(e)}).get();
      if (!s.ok()) {
        EXPECT_TRUE(s.error().retryable) << s.error().message;
        std::this_thread::sleep_for(200ms);
      }
    }
    ASSERT_TRUE(s.ok()) << "retry of " << id << ": " << s.error().message;
    confirmed.insert(id);
  }
  std::cerr
      << confirmed.size() << " events published (" << to_retry.size()
      << " retried after a failed publish, done "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at).count()
      << " ms after the kill)\n";

  // Every confirmed event arrives (at least once) and is handled once by id.
  EXPECT_TRUE(testing::eventually([&] { return handled.has_all(confirmed); }, 30s))
      << "confirmed events were lost";
  {
    std::lock_guard lock(handled.mu);
    std::cerr << handled.deliveries << " deliveries, " << handled.ids.size() << " distinct ids, "
              << handled.duplicates << " redelivered duplicates recognised\n";
    EXPECT_EQ(handled.ids.size(), confirmed.size());
  }

  // Every RPC completed within its timeout: a reply, a retryable `unavailable`, or, for a
  // request whose reply address was on the killed node's connection (the reply cannot reach a
  // caller that has moved on), `deadline_exceeded` at the caller's timeout; none hung.
  std::lock_guard lock(rpc_mu);
  int ok = 0;
  int unavailable = 0;
  int timed_out = 0;
  for (const auto& o : rpc_outcomes) {
    EXPECT_FALSE(o.hung);
    EXPECT_TRUE(!o.error || *o.error == codes::kUnavailable || *o.error == codes::kDeadlineExceeded)
        << o.message;
    EXPECT_LE(o.took, kRpcTimeout + 1s);
    ok += o.error ? 0 : 1;
    unavailable += o.error == codes::kUnavailable ? 1 : 0;
    timed_out += o.error == codes::kDeadlineExceeded ? 1 : 0;
  }
  std::cerr << rpc_outcomes.size() << " RPCs: " << ok << " answered, " << unavailable
            << " unavailable (retryable), " << timed_out << " timed out\n";
  EXPECT_GT(ok, 0);
  EXPECT_GT(served.load(), 0);
}

}  // namespace
}  // namespace wonderland::messaging
