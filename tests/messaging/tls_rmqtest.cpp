// amqps:// against a private RabbitMQ with a TLS listener, whose certificate authority and
// certificates the test makes with the openssl command-line tool.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker_test_helpers.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/tcp_relay.hpp"
#include "wonderland/testing/temp_dir.hpp"

namespace wonderland::messaging {
namespace {

using namespace std::chrono_literals;
using test::CapturingSink;
using testing::unique_name;

void run_openssl(const std::filesystem::path& dir, const std::string& args) {
  std::string cmd = "cd '" + dir.string() + "' && openssl " + args + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "failed: openssl " << args;
}

/// A certificate authority `name`.pem / `name`.key.
void make_ca(const std::filesystem::path& dir, const std::string& name) {
  run_openssl(dir,
              "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=" +
                  name + "' -keyout " + name + ".key -out " + name + ".pem");
}

/// A certificate `name`.pem / `name`.key signed by `ca`, with the extensions in `extensions`.
void make_cert(const std::filesystem::path& dir, const std::string& name, const std::string& ca,
               const std::string& cn, const std::string& extensions) {
  run_openssl(dir, "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=" + cn +
                       "' -keyout " + name + ".key -out " + name + ".csr");
  std::string ext = (dir / (name + ".ext")).string();
  std::string cmd = "printf '" + extensions + "' >'" + ext + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  run_openssl(dir, "x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
                       ".key -CAcreateserial -days 2 -extfile " + name + ".ext -out " + name +
                       ".pem");
}

class TlsBrokerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log_ = std::make_unique<test::LogCapture>();
    sink_ = &log_->sink();
    dir_ = new testing::TempDir("wl-tls");
    const auto& d = dir_->path();
    make_ca(d, "ca");
    make_ca(d, "other-ca");
    make_cert(d, "server", "ca", "127.0.0.1",
              "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n");
    make_cert(d, "client", "ca", "wonderland-test-client", "extendedKeyUsage=clientAuth\\n");
    make_cert(d, "stranger", "other-ca", "stranger", "extendedKeyUsage=clientAuth\\n");
    if (::testing::Test::HasFatalFailure())
      return;
    broker_ = new testing::PrivateBroker(testing::BrokerTls{
        (d / "server.pem").string(), (d / "server.key").string(), (d / "ca.pem").string()});
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
    delete dir_;
    dir_ = nullptr;
    sink_ = nullptr;
    log_.reset();
  }

  void SetUp() override {
    ASSERT_NE(broker_, nullptr) << "the TLS broker did not start";
    sink_->clear();  // the connections of earlier tests are closed: only this test's lines count
  }

  static std::string file(const std::string& name) { return (dir_->path() / name).string(); }

  static ConnectionOptions tls_options(const std::string& url, const std::string& ca,
                                       const std::string& service) {
    ConnectionOptions o;
    o.url = url;
    o.service = service;
    o.tls.ca_cert_file = file(ca);
    o.reconnect_min_backoff = 20ms;
    o.reconnect_max_backoff = 100ms;
    return o;
  }

  /// Waits until the log says that connections to `port` were refused `times` times for a reason
  /// containing `why`.
  static bool refused(const std::string& where, const std::string& why, int times,
                      std::chrono::milliseconds within = 20s) {
    return testing::eventually(
        [&] {
          return sink_->count({"cannot connect to the broker at " + where, why}) >= times;
        },
        within);
  }

  static std::string tls_port() { return std::to_string(testing::port_of(broker_->amqps_url())); }

  // Installed before the suite's first connection and removed after its last (test::LogCapture).
  static inline std::unique_ptr<test::LogCapture> log_;
  static inline CapturingSink* sink_ = nullptr;
  static inline testing::TempDir* dir_ = nullptr;
  static inline testing::PrivateBroker* broker_ = nullptr;
};

TEST_F(TlsBrokerTest, ConfirmedPublishConsumeAndRpcTravelOverTls) {
  Connection conn(tls_options(broker_->amqps_url(), "ca.pem", "tls-test"));
  ASSERT_TRUE(conn.wait_connected(20s)) << sink_->all();

  QueueName q = test::declare_scratch_queue(conn, "tls");
  Envelope e = Envelope::make("test.ping", {{"n", 42}});
  Status s = conn.publish(Outgoing{exchanges::kDefault, q.str(), e}).get();
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::promise<Envelope> got;
  auto consumer = conn.consume(ConsumerOptions{q, 8, 3, 1},
                               [&](const Envelope& m, const DeliveryInfo&) { got.set_value(m); });
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  Envelope m = f.get();
  EXPECT_EQ(m.message_id, e.message_id);
  EXPECT_EQ(m.body["n"], 42);

  // An RPC round trip between two TLS connections; the server names the host as "localhost",
  // the other name in the broker's certificate.
  Connection server_conn(tls_options(broker_->amqps_url("localhost"), "ca.pem", "tls-rpc-server"));
  QueueName rpc_q{unique_name("tls-rpc")};
  {
    RpcServer server(server_conn, RpcServerOptions{rpc_q, 8, 1},
                     [](const Envelope& req) -> Result<nlohmann::json> {
                       return nlohmann::json{{"double", req.body["n"].get<int>() * 2}};
                     });
    RpcClient client(conn);
    for (int i = 0; i < 20; ++i) {
      Result<Envelope> r =
          client.call(RpcRequest{rpc_q, Envelope::make("test.double", {{"n", i}}), 10s}).get();
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_EQ(r->body["double"], 2 * i);
    }
  }
  conn.delete_queue(q);
  server_conn.delete_queue(rpc_q);
  server_conn.delete_queue(dead_letter_queue_for(rpc_q));
  EXPECT_EQ(conn.stats().connects, 1u);
}

TEST_F(TlsBrokerTest, AnIdleTlsConnectionKeepsItselfAliveWithItsOwnHeartbeats) {
  // Over TLS the session's heartbeats go through rabbitmq-c's encrypted stream; with none, the
  // broker closes a connection silent for two 1 s heartbeat intervals.
  ConnectionOptions o = tls_options(broker_->amqps_url(), "ca.pem", "tls-idle");
  o.heartbeat = 1s;
  Connection conn(o);
  ASSERT_TRUE(conn.wait_connected(20s)) << sink_->all();
  std::this_thread::sleep_for(5s);
  EXPECT_TRUE(conn.connected());
  EXPECT_EQ(conn.stats().connects, 1U) << sink_->all();
}

TEST_F(TlsBrokerTest, AWriteTheBrokerDoesNotTakeCostsAReconnectNotAStuckConnection) {
  // Over TLS rabbitmq-c owns the encrypted stream and waits for room in the socket with no time
  // limit of its own. The relay stops reading from the connection as a broker under a memory alarm
  // does (the broker's own alarm cannot show it over TLS: its TLS layer may go on reading into
  // memory); the write that finds the socket full must give up after the connect time-out.
  testing::TcpRelay relay(testing::port_of(broker_->amqps_url()));
  ConnectionOptions o =
      tls_options(testing::with_port(broker_->amqps_url(), relay.port()), "ca.pem", "tls-stall");
  o.connect_timeout = 1s;  // also how long a write waits for room in the socket
  o.heartbeat = 30s;       // the broker must not end the stalled connection on its own
  Connection conn(o);
  struct Resume {  // before the connection closes, also when an assertion ends the test early
    testing::TcpRelay& relay;
    ~Resume() { relay.resume(); }
  } resume{relay};
  ASSERT_TRUE(conn.wait_connected(20s)) << sink_->all();
  QueueName q = test::declare_scratch_queue(conn, "tls-stall");
  relay.stall_open_connections();
  auto sent = test::publish_mebibytes(conn, q, 16, 30s);
  // The stalled connection is shut down after its time-out; the next one goes through the relay
  // as usual and sends every unconfirmed message again.
  EXPECT_TRUE(testing::eventually([&] { return conn.stats().connects >= 2; }, 20s))
      << "connections: " << conn.stats().connects;
  EXPECT_GE(sink_->count({"no room in the socket for 1000 ms"}), 1) << sink_->all();
  test::expect_confirmed_and_queued(conn, q, sent);
  conn.delete_queue(q);
}

TEST_F(TlsBrokerTest, ABrokerSignedByAnotherCaIsRefusedAndRetried) {
  Connection conn(tls_options(broker_->amqps_url(), "other-ca.pem", "tls-wrong-ca"));
  // The first failure is logged, then every tenth: two lines prove that it keeps retrying. The
  // broker sends its CA along with its certificate, and that CA is not the one trusted here.
  EXPECT_TRUE(refused("127.0.0.1:" + tls_port(),
                      "certificate is refused: self-signed certificate in certificate chain", 2))
      << sink_->all();
  EXPECT_FALSE(conn.connected());
  EXPECT_EQ(conn.stats().connects, 0u);
  Status s = conn.publish(Outgoing{exchanges::kDefault, "nowhere", Envelope::make("test.lost", {}),
                                   Delivery::kPersistent, false, 200ms})
                 .get();
  EXPECT_FALSE(s.ok());
}

TEST_F(TlsBrokerTest, AHostNameTheCertificateDoesNotNameIsRefused) {
  // "127.1" reaches 127.0.0.1 (the resolver reads it as an IPv4 address), but it is neither the
  // IP address nor the DNS name that the certificate names.
  Connection conn(tls_options(broker_->amqps_url("127.1"), "ca.pem", "tls-wrong-host"));
  EXPECT_TRUE(refused("127.1:" + tls_port(), "certificate is refused: hostname mismatch", 1))
      << sink_->all();
  EXPECT_FALSE(conn.connected());
}

TEST_F(TlsBrokerTest, AClientCertificateIsPresented) {
  ConnectionOptions o = tls_options(broker_->amqps_url(), "ca.pem", "tls-client-cert");
  o.tls.cert_file = file("client.pem");
  o.tls.key_file = file("client.key");
  Connection conn(o);
  ASSERT_TRUE(conn.wait_connected(20s)) << sink_->all();
  QueueName q{unique_name("tls-client")};
  conn.declare(QueueSpec{q, false, false, true});
  conn.delete_queue(q);
}

TEST_F(TlsBrokerTest, AClientCertificateFromAnotherCaIsRefusedByTheBroker) {
  ConnectionOptions o = tls_options(broker_->amqps_url(), "ca.pem", "tls-stranger");
  o.tls.cert_file = file("stranger.pem");
  o.tls.key_file = file("stranger.key");
  Connection conn(o);
  // The broker's alert can come after the client has seen the connection end: such an attempt
  // fails with "no detail from OpenSSL", and on a loaded machine several attempts in a row can.
  EXPECT_TRUE(refused("127.0.0.1:" + tls_port(), "alert unknown ca", 1, 60s)) << sink_->all();
  EXPECT_FALSE(conn.connected());
  EXPECT_EQ(conn.stats().connects, 0u);
}

TEST_F(TlsBrokerTest, WithoutVerificationAnyCertificateIsAcceptedWithAWarning) {
  ConnectionOptions o = tls_options(broker_->amqps_url("127.1"), "other-ca.pem", "tls-unverified");
  o.tls.verify = false;
  Connection conn(o);
  ASSERT_TRUE(conn.wait_connected(20s)) << sink_->all();
  EXPECT_GE(sink_->count({"127.1:" + tls_port(), "WITHOUT verifying its certificate"}), 1);
}

TEST_F(TlsBrokerTest, PlainAmqpToTheTlsPortNeverConnects) {
  std::string url = broker_->amqps_url();
  url.replace(0, 5, "amqp");
  ConnectionOptions o = tls_options(url, "ca.pem", "plain-to-tls");
  o.connect_timeout = 1s;
  Connection conn(o);
  EXPECT_TRUE(refused("127.0.0.1:" + tls_port(), "", 1)) << sink_->all();
  EXPECT_FALSE(conn.connected());
}

TEST(TlsOptionsTest, ComeFromTheEnvironment) {
  ::setenv("WONDERLAND_AMQP_CACERT", "/etc/wonderland/ca.pem", 1);
  ::setenv("WONDERLAND_AMQP_CERT", "/etc/wonderland/client.pem", 1);
  ::setenv("WONDERLAND_AMQP_KEY", "/etc/wonderland/client.key", 1);
  ::setenv("WONDERLAND_AMQP_TLS_VERIFY", "0", 1);
  ConnectionOptions o = ConnectionOptions::from_env("tls-test");
  EXPECT_EQ(o.tls.ca_cert_file, "/etc/wonderland/ca.pem");
  EXPECT_EQ(o.tls.cert_file, "/etc/wonderland/client.pem");
  EXPECT_EQ(o.tls.key_file, "/etc/wonderland/client.key");
  EXPECT_FALSE(o.tls.verify);
  ::unsetenv("WONDERLAND_AMQP_KEY");
  EXPECT_THROW(ConnectionOptions::from_env("tls-test"), std::invalid_argument);
  for (const char* v :
       {"WONDERLAND_AMQP_CACERT", "WONDERLAND_AMQP_CERT", "WONDERLAND_AMQP_TLS_VERIFY"}) {
    ::unsetenv(v);
  }
  o = ConnectionOptions::from_env("tls-test");
  EXPECT_TRUE(o.tls.verify);
  EXPECT_TRUE(o.tls.ca_cert_file.empty());
}

}  // namespace
}  // namespace wonderland::messaging
