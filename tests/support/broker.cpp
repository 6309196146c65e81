#include "wonderland/testing/broker.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "wonderland/common/ids.hpp"

namespace wonderland::testing {
namespace {

/// The Erlang distribution port of a test's broker on AMQP port P (20000-29999) is P - 10000:
/// below the kernel's ephemeral range (32768-60999), so that while the broker is stopped no
/// outgoing connection can be given it. infra.sh's own default, P + 20000, lies inside it.
constexpr int kDistOffset = -10000;

std::string dist_port_env(int amqp_port) {
  return "WONDERLAND_RABBITMQ_DIST_PORT=" + std::to_string(amqp_port + kDistOffset) + " ";
}

std::string infra_script() {
  const char* s = std::getenv("WONDERLAND_TEST_INFRA");
  return s != nullptr ? s : std::string(WONDERLAND_SOURCE_DIR) + "/scripts/infra.sh";
}

}  // namespace

std::string amqp_url() {
  const char* url = std::getenv("WONDERLAND_AMQP_URL");
  if (url == nullptr || *url == '\0') {
    ADD_FAILURE() << "WONDERLAND_AMQP_URL is not set: run the tests through scripts/test.sh";
    return "amqp://guest:guest@127.0.0.1:5672/";
  }
  return url;
}

int port_of(const std::string& address_or_url) {
  return std::stoi(address_or_url.substr(address_or_url.rfind(':') + 1));
}

std::string with_port(const std::string& url, int port) {
  const auto colon = url.rfind(':');
  const auto rest = url.find('/', colon);
  return url.substr(0, colon + 1) + std::to_string(port) +
         (rest == std::string::npos ? std::string() : url.substr(rest));
}

std::string unique_name(const std::string& prefix) {
  return prefix + "." + new_uuid();
}

PrivateBroker::PrivateBroker() : PrivateBroker(std::optional<BrokerTls>()) {}

PrivateBroker::PrivateBroker(BrokerTls tls)
    : PrivateBroker(std::optional<BrokerTls>(std::move(tls))) {}

PrivateBroker::PrivateBroker(std::optional<BrokerTls> tls)
    : ports_(PortReservation::reserve(1, kDistOffset)),
      port_(ports_.first()),
      var_dir_(std::string(WONDERLAND_BINARY_DIR) + "/test-brokers/" + new_uuid()),
      tls_(std::move(tls)) {
  if (tls_) {
    tls_ports_ = PortReservation::reserve();
    tls_port_ = tls_ports_.first();
  }
  try {
    start();
  } catch (...) {
    run("clean rabbitmq");
    std::error_code ec;
    std::filesystem::remove_all(var_dir_, ec);
    throw;
  }
}

PrivateBroker::~PrivateBroker() {
  run("clean rabbitmq");
  std::error_code ec;
  std::filesystem::remove_all(var_dir_, ec);
}

std::string PrivateBroker::url() const {
  return "amqp://guest:guest@127.0.0.1:" + std::to_string(port_) + "/";
}

std::string PrivateBroker::amqps_url(const std::string& host) const {
  if (!tls_)
    throw std::logic_error("this private broker has no TLS listener");
  return "amqps://guest:guest@" + host + ":" + std::to_string(tls_port_) + "/";
}

int PrivateBroker::run(const std::string& command) const {
  std::string tls_env;
  if (tls_) {
    tls_env = "WONDERLAND_AMQP_TLS_PORT=" + std::to_string(tls_port_) +
              " WONDERLAND_AMQP_TLS_CERT='" + tls_->cert_file + "' WONDERLAND_AMQP_TLS_KEY='" +
              tls_->key_file + "' WONDERLAND_AMQP_TLS_CACERT='" + tls_->ca_cert_file + "' ";
  }
  std::string cmd = "WONDERLAND_INFRA_TIMEOUT_S=120 WONDERLAND_VAR_DIR='" + var_dir_ +
                    "' WONDERLAND_AMQP_PORT=" + std::to_string(port_) + " " + dist_port_env(port_) +
                    tls_env + "'" + infra_script() + "' " + command + " >&2";
  return std::system(cmd.c_str());
}

void PrivateBroker::start() {
  if (run("start rabbitmq") != 0)
    throw std::runtime_error("private broker did not start");
}

void PrivateBroker::stop() {
  if (run("stop rabbitmq") != 0)
    throw std::runtime_error("private broker did not stop");
}

void PrivateBroker::memory_alarm(bool on) {
  if (run(std::string("memory-alarm ") + (on ? "on" : "off")) != 0)
    throw std::runtime_error("cannot set the private broker's memory alarm");
}

PrivateCluster::PrivateCluster(int nodes)
    : nodes_(nodes),
      ports_(std::getenv("WONDERLAND_TEST_CLUSTER_AMQP_PORT") != nullptr
                 ? PortReservation()
                 : PortReservation::reserve(nodes, kDistOffset)),
      port_(std::getenv("WONDERLAND_TEST_CLUSTER_AMQP_PORT") != nullptr
                ? std::stoi(std::getenv("WONDERLAND_TEST_CLUSTER_AMQP_PORT"))
                : ports_.first()),
      var_dir_(std::string(WONDERLAND_BINARY_DIR) + "/test-brokers/" + new_uuid()) {
  if (run("start rabbitmq") != 0) {
    run("clean rabbitmq");
    std::error_code ec;
    std::filesystem::remove_all(var_dir_, ec);
    throw std::runtime_error("private cluster did not start");
  }
}

PrivateCluster::~PrivateCluster() {
  run("clean rabbitmq");
  std::error_code ec;
  std::filesystem::remove_all(var_dir_, ec);
}

std::string PrivateCluster::urls() const {
  std::string out;
  for (int i = 0; i < nodes_; ++i) {
    out += (i == 0 ? "" : ",") + std::string("amqp://guest:guest@127.0.0.1:") +
           std::to_string(port_ + i) + "/";
  }
  return out;
}

int PrivateCluster::node_at(int port) const {
  return port >= port_ && port < port_ + nodes_ ? port - port_ : -1;
}

int PrivateCluster::run(const std::string& command) const {
  // Ports given by WONDERLAND_TEST_CLUSTER_AMQP_PORT keep infra.sh's distribution ports.
  const std::string dist = ports_.first() != 0 ? dist_port_env(port_) : std::string();
  std::string cmd =
      "WONDERLAND_INFRA_TIMEOUT_S=120 WONDERLAND_RABBITMQ_NODES=" + std::to_string(nodes_) +
      " WONDERLAND_VAR_DIR='" + var_dir_ + "' WONDERLAND_AMQP_PORT=" + std::to_string(port_) + " " +
      dist + "'" + infra_script() + "' " + command + " >&2";
  return std::system(cmd.c_str());
}

void PrivateCluster::kill_node(int index) {
  if (run("kill-node " + std::to_string(index)) != 0)
    throw std::runtime_error("cannot kill node " + std::to_string(index));
}

void PrivateCluster::start_node(int index) {
  if (run("start-node " + std::to_string(index)) != 0)
    throw std::runtime_error("node " + std::to_string(index) + " did not start");
}

void PrivateCluster::keep_logs(const std::string& into) const {
  namespace fs = std::filesystem;
  for (int i = 0; i < nodes_; ++i) {
    const std::string node = "rabbitmq-" + std::to_string(port_ + i);
    std::error_code ec;
    fs::create_directories(fs::path(into) / node, ec);
    fs::copy(fs::path(var_dir_) / node / "log", fs::path(into) / node,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
    if (ec)
      std::cerr << "cannot keep the logs of " << node << ": " << ec.message() << "\n";
  }
}

void Latch::add(int n) {
  {
    std::lock_guard lock(mu_);
    count_ += n;
  }
  cv_.notify_all();
}

int Latch::count() const {
  std::lock_guard lock(mu_);
  return count_;
}

bool Latch::wait_for(int target, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return count_ >= target; });
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace wonderland::testing
