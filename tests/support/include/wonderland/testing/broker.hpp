// Test support: where the harness's broker is, private brokers for fault tests, bounded waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "wonderland/testing/ports.hpp"

namespace wonderland::testing {

/// The broker the test harness started (WONDERLAND_AMQP_URL). Fails the calling test when the
/// variable is unset, so that a suite run without a broker cannot pass silently.
std::string amqp_url();

/// The port of a `host:port` address or of a URL such as amqp://user:pass@host:port/ (the
/// number after the last colon).
int port_of(const std::string& address_or_url);

/// `url` (such as amqp://user:pass@host:port/vhost) with `port` instead of its own; what follows
/// the port is kept. For example the same broker through a testing::TcpRelay in front of it.
std::string with_port(const std::string& url, int port);

/// A unique name for a queue or exchange of one test: `<prefix>.<uuid>`.
std::string unique_name(const std::string& prefix);

/// The PEM files of a TLS listener (scripts/infra.sh's WONDERLAND_AMQP_TLS_* variables).
struct BrokerTls {
  std::string cert_file;
  std::string key_file;
  std::string ca_cert_file;
};

/// A RabbitMQ instance of its own, started through scripts/infra.sh on a free port with its
/// data in the build folder, so a test can stop and restart it without disturbing others.
class PrivateBroker {
 public:
  PrivateBroker();
  /// With a TLS listener too, on a second free port (see amqps_url).
  explicit PrivateBroker(BrokerTls tls);
  ~PrivateBroker();  ///< stops the broker and deletes its data
  PrivateBroker(const PrivateBroker&) = delete;
  PrivateBroker& operator=(const PrivateBroker&) = delete;

  std::string url() const;
  /// amqps://guest:guest@<host>:<TLS port>/ (only with a TLS listener).
  std::string amqps_url(const std::string& host = "127.0.0.1") const;
  void start();
  void stop();
  /// Raises or lifts the broker's memory alarm (infra.sh memory-alarm): while it is raised the
  /// broker stops reading from connections that publish.
  void memory_alarm(bool on);

 private:
  explicit PrivateBroker(std::optional<BrokerTls> tls);
  int run(const std::string& command) const;
  PortReservation ports_;  // the AMQP and Erlang distribution ports, kept while stopped
  int port_;
  std::string var_dir_;
  std::optional<BrokerTls> tls_;
  PortReservation tls_ports_;
  int tls_port_ = 0;
};

/// A RabbitMQ cluster of its own: `nodes` nodes started through scripts/infra.sh
/// (WONDERLAND_RABBITMQ_NODES) on consecutive free ports, or from
/// WONDERLAND_TEST_CLUSTER_AMQP_PORT when set, with their data in the build folder.
class PrivateCluster {
 public:
  explicit PrivateCluster(int nodes);
  ~PrivateCluster();  ///< stops every node and deletes the data
  PrivateCluster(const PrivateCluster&) = delete;
  PrivateCluster& operator=(const PrivateCluster&) = delete;

  /// Every node's URL, comma-separated (WONDERLAND_AMQP_URL).
  std::string urls() const;
  /// The index of the node listening on `port`; -1 when none does.
  int node_at(int port) const;
  /// SIGKILL to node `index` (infra.sh kill-node); throws when the script fails.
  void kill_node(int index);
  /// Starts node `index` again (infra.sh start-node).
  void start_node(int index);
  /// Copies every node's log folder to `<into>/rabbitmq-<port>/` (the destructor deletes the
  /// originals), for a test that failed. Best effort: errors are printed, not thrown.
  void keep_logs(const std::string& into) const;

 private:
  int run(const std::string& command) const;
  int nodes_;
  PortReservation ports_;  // empty when WONDERLAND_TEST_CLUSTER_AMQP_PORT chose the ports
  int port_;
  std::string var_dir_;
};

/// Counts events and lets a test wait, with a deadline, until enough have happened.
class Latch {
 public:
  void add(int n = 1);
  int count() const;
  /// Waits until count() >= target or the timeout passes; returns whether the target was met.
  bool wait_for(int target, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int count_ = 0;
};

/// Polls `condition` until it holds or the timeout passes (for state with no event to wait on).
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace wonderland::testing
