// End-to-end test of examples/python-worker: the real mediator, loaded with the example's
// definitions, runs the shipping-label workflow against the Python worker (Debian's python3 and
// python3-pika) on the test broker. Workflows started over the operator API complete with what
// the worker produced (and its log records reach wonderland.logs); an injected `unavailable` is
// retried; a refused pickup compensates (the label is voided); a replayed command is deduplicated
// by its idempotency key; a malformed message lands in the worker's dead-letter queue while the
// worker goes on; and a worker killed with SIGKILL in the middle of a command is started again and
// the workflow still completes, from the broker's redelivery.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "wonderland/common/ids.hpp"
#include "wonderland/log_service/protocol.hpp"
#include "wonderland/log_store/record.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/ports.hpp"
#include "wonderland/testing/process.hpp"
#include "wonderland/testing/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using wonderland::testing::ChildProcess;
using wonderland::testing::HttpClient;
using wonderland::testing::HttpResponse;
namespace fs = std::filesystem;
namespace messaging = wonderland::messaging;
using Clock = std::chrono::steady_clock;

constexpr char kToken[] = "python-worker-test-token";

/// The mediator, the Python worker and the test's own broker connections, shared by the tests.
struct Harness {
  wonderland::testing::TempDir dir{"wl-python-worker"};
  std::string prefix = "pyw-" + wonderland::fast_random_hex(6) + ".";
  std::string queue = prefix + "labels.commands";
  // The mediator's HTTP port: no other test takes it before the mediator binds it.
  wonderland::testing::PortReservation port_reservation =
      wonderland::testing::PortReservation::reserve();
  int port = port_reservation.first();
  std::unique_ptr<ChildProcess> worker;
  std::unique_ptr<ChildProcess> mediator;
  std::unique_ptr<messaging::Connection> rpc_connection;  // consumes its replies
  std::unique_ptr<messaging::RpcClient> rpc;
  std::unique_ptr<messaging::Connection> probe;  // publishes and reads queues: no consumer

  Harness() {
    const std::string amqp = wonderland::testing::amqp_url();
    const std::string source = wonderland::testing::source_dir();
    worker = std::make_unique<ChildProcess>(
        WONDERLAND_TEST_PYTHON,
        std::map<std::string, std::string>{
            {"WONDERLAND_AMQP_URL", amqp},
            {"WONDERLAND_LABELS_QUEUE", queue},
            {"WONDERLAND_LABELS_DB", (dir.path() / "labels.db").string()}},
        (dir.path() / "worker.log").string(),
        std::vector<std::string>{source + "/examples/python-worker/worker.py"});
    fs::create_directories(dir.path() / "web");
    std::ofstream(dir.path() / "web" / "index.html") << "<!doctype html><title>test</title>\n";
    mediator = std::make_unique<ChildProcess>(
        wonderland::testing::binary_path("wonderland-mediator"),
        std::map<std::string, std::string>{
            {"WONDERLAND_AMQP_URL", amqp},
            {"WONDERLAND_HTTP_PORT", std::to_string(port)},
            {"WONDERLAND_ADMIN_TOKEN", kToken},
            {"WONDERLAND_JOURNAL_PATH", (dir.path() / "journal.db").string()},
            {"WONDERLAND_WORKFLOWS_DIR", source + "/examples/python-worker/definitions"},
            {"WONDERLAND_WEB_DIR", (dir.path() / "web").string()},
            {"WONDERLAND_QUEUE_PREFIX", prefix},
            {"WONDERLAND_VAR_DIR", dir.path().string()},
            // /readyz waits for a consumer on every queue the definitions send to: the worker.
            {"WONDERLAND_READYZ_REQUIRE_CONSUMERS", "1"}},
        (dir.path() / "mediator.log").string());
    messaging::ConnectionOptions options;
    options.url = amqp;
    options.service = "python-worker-test";
    rpc_connection = std::make_unique<messaging::Connection>(options);
    rpc = std::make_unique<messaging::RpcClient>(*rpc_connection);
    probe = std::make_unique<messaging::Connection>(options);
    // The worker's info records, as the logging service receives them.
    probe->declare(
        messaging::ExchangeSpec{messaging::exchanges::kLogs, messaging::ExchangeType::kDirect});
    messaging::QueueSpec logs;
    logs.name = messaging::QueueName{prefix + "logs"};
    logs.exclusive = true;
    logs.auto_delete = true;
    logs.durable = false;
    logs.dead_letter_exchange.reset();
    probe->declare(logs);
    probe->declare(messaging::BindingSpec{logs.name, messaging::exchanges::kLogs, "info"});
  }

  ~Harness() {
    mediator->stop(10s);
    worker->stop(10s);
    for (const std::string& name :
         {queue, queue + ".dead", prefix + "mediator.signals", prefix + "mediator.signals.dead"}) {
      try {
        probe->delete_queue(messaging::QueueName{name}, 5s);
      } catch (const std::exception&) {
        // Never declared: nothing to delete.
      }
    }
  }

  std::string diagnostics() const {
    return "\n--- worker ---\n" + worker->log_tail(30) + "\n--- mediator ---\n" +
           mediator->log_tail(30);
  }
};

class PythonWorkerE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    run_ = new Harness();
    run_->worker->start();
    run_->mediator->start();
    ASSERT_TRUE(wonderland::testing::wait_for_port(run_->port, 20s)) << run_->diagnostics();
    HttpClient http(run_->port);
    bool ready = wonderland::testing::eventually(
        [&] { return run_->worker->running() && http.get("/readyz").status == 200; }, 20s);
    ASSERT_TRUE(ready) << "the mediator is not ready (no consumer on " << run_->queue << "?)"
                       << run_->diagnostics();
  }

  static void TearDownTestSuite() {
    delete run_;
    run_ = nullptr;
  }

  void SetUp() override {
    if (run_ == nullptr || !run_->mediator->running())
      GTEST_SKIP() << "the system did not start";
  }

  /// POST /api/workflows: the new workflow's id.
  static std::string start(const json& input) {
    HttpClient http(run_->port);
    HttpResponse r = http.post_json("/api/workflows",
                                    {{"definition", "shipping-label"}, {"input", input}}, kToken);
    EXPECT_EQ(r.status, 202) << describe(r);
    return r.json().value("id", "");
  }

  static json workflow(const std::string& id) {
    HttpClient http(run_->port);
    return http.get("/api/workflows/" + id, kToken).json();
  }

  /// Polls the workflow until it has ended (or 30 s have passed): its last state.
  static json finished(const std::string& id) {
    json w;
    wonderland::testing::eventually(
        [&] {
          w = workflow(id);
          return w.value("status", "") != "running";
        },
        30s);
    return w;
  }

  /// The timeline's records of one type (and step, when given).
  static std::vector<json> records(const json& w, const std::string& type,
                                   const std::string& step = {}) {
    std::vector<json> out;
    for (const auto& r : w.value("timeline", json::array())) {
      if (r.value("type", "") == type && (step.empty() || r.value("step", "") == step))
        out.push_back(r);
    }
    return out;
  }

  static json output(const json& w) {
    auto done = records(w, "completed");
    return done.empty() ? json() : done.front()["data"]["output"];
  }

  /// A command straight to the worker's queue, as the mediator sends it.
  static wonderland::Result<messaging::Envelope> command(const std::string& type, const json& body,
                                                         const std::string& key = {}) {
    auto e = messaging::Envelope::make(type, body);
    e.correlation_id = "python-worker-test";
    e.idempotency_key = key;
    return run_->rpc
        ->call(messaging::RpcRequest{messaging::QueueName{run_->queue}, std::move(e), 10s,
                                     messaging::Delivery::kTransient})
        .get();
  }

  static Harness* run_;
};

Harness* PythonWorkerE2e::run_ = nullptr;

const json kAlice{
    {"recipient", "Alice Liddell"}, {"address", "1 Rabbit Hole, Oxford"}, {"carrier", "post"}};

TEST_F(PythonWorkerE2e, CompletesWithWhatTheWorkerProduced) {
  const std::string id = start(kAlice);
  json w = finished(id);
  ASSERT_EQ(w.value("status", ""), "completed") << w.dump(2) << run_->diagnostics();
  json out = output(w);
  EXPECT_EQ(out["text"], "TO: ALICE LIDDELL\n1 Rabbit Hole, Oxford");
  EXPECT_EQ(out["printed_by"], "python");
  EXPECT_EQ(out["print_attempts"], 1);
  ASSERT_TRUE(out["label_id"].is_string());
  ASSERT_TRUE(out["pickup_id"].is_string());
  // The worker's own state agrees (a query: no idempotency key).
  auto label = command("labels.get", {{"label_id", out["label_id"]}});
  ASSERT_TRUE(label.ok()) << label.error().message;
  EXPECT_EQ(label.value().body["status"], "booked");
  EXPECT_EQ(label.value().body["pickup_id"], out["pickup_id"]);
  EXPECT_EQ(label.value().type, "labels.get.reply");
  EXPECT_EQ(label.value().source, "labels");
  // Its log records reach wonderland.logs in a form the logging service stores.
  std::optional<wonderland::log_store::Record> logged;
  wonderland::testing::eventually(
      [&] {
        while (auto m = run_->probe->get(messaging::QueueName{run_->prefix + "logs"})) {
          auto record = wonderland::log_service::record_from_log_envelope(
              messaging::Envelope::parse(m->body), m->routing_key);
          if (record.service == "labels" && record.correlation_id == id)
            logged = record;
        }
        return logged.has_value();
      },
      10s);
  ASSERT_TRUE(logged.has_value()) << run_->diagnostics();
  EXPECT_EQ(logged->severity, wonderland::log_store::Severity::kInfo);
  EXPECT_EQ(logged->message.rfind("labels.", 0), 0u) << logged->message;
  EXPECT_EQ(logged->fields.value("attempt", 0), 1) << logged->fields.dump();
}

TEST_F(PythonWorkerE2e, RetriesARetryableError) {
  json input = kAlice;
  input["fail_first"] = 2;
  const std::string id = start(input);
  json w = finished(id);
  ASSERT_EQ(w.value("status", ""), "completed") << w.dump(2) << run_->diagnostics();
  EXPECT_EQ(output(w)["print_attempts"], 3);
  auto failed = records(w, "step_attempt_failed", "print");
  ASSERT_EQ(failed.size(), 2u) << w.dump(2);
  for (const auto& f : failed) {
    EXPECT_EQ(f["data"]["error"]["code"], "unavailable");
    EXPECT_EQ(f["data"]["error"]["retryable"], true);
  }
}

TEST_F(PythonWorkerE2e, AFinalErrorCompensates) {
  json input = kAlice;
  input["carrier"] = "pigeon";
  const std::string id = start(input);
  json w = finished(id);
  ASSERT_EQ(w.value("status", ""), "failed") << w.dump(2) << run_->diagnostics();
  EXPECT_NE(w.value("reason", "").find("carrier 'pigeon' does not collect here"), std::string::npos)
      << w.dump(2);
  // Not retried: failed_precondition is final.
  EXPECT_TRUE(records(w, "step_attempt_failed", "pickup").empty()) << w.dump(2);
  auto compensated = records(w, "compensation_succeeded", "print");
  ASSERT_EQ(compensated.size(), 1u) << w.dump(2);
  auto printed = records(w, "step_succeeded", "print");
  ASSERT_EQ(printed.size(), 1u) << w.dump(2);
  const json label_id = printed.front()["data"]["output"]["label_id"];
  auto label = command("labels.get", {{"label_id", label_id}});
  ASSERT_TRUE(label.ok()) << label.error().message;
  EXPECT_EQ(label.value().body["status"], "voided");
}

TEST_F(PythonWorkerE2e, ACommandSentTwiceActsOnce) {
  const std::string key = "replay-" + wonderland::fast_random_hex(6) + ":print";
  const json body{{"recipient", "Bill"}, {"address", "The Chimney"}};
  auto first = command("labels.print", body, key);
  auto second = command("labels.print", body, key);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(first.value().body, second.value().body);
  // A final error is recorded under its key too, and errors travel as {code, message,
  // retryable, fields}.
  auto invalid = command("labels.print", {{"recipient", ""}}, key + "-bad");
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code, wonderland::codes::kInvalidArgument);
  EXPECT_FALSE(invalid.error().retryable);
  EXPECT_EQ(invalid.error().fields.size(), 2u);
  auto unknown = command("labels.shred", json::object(), key + "-shred");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "unknown command type 'labels.shred'");
}

TEST_F(PythonWorkerE2e, AMalformedMessageIsDeadLetteredAndTheWorkerGoesOn) {
  const std::string deep = R"({"message_id":"m-1","type":"labels.print","body":)" +
                           std::string(200, '[') + std::string(200, ']') + "}";
  const std::string deeper = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string& raw :
       {std::string("{not json"), std::string(R"({"type":"x"})"), deep, deeper}) {
    messaging::Outgoing m{messaging::exchanges::kDefault, run_->queue,
                          messaging::Envelope::make("labels.print", json::object())};
    m.raw_body = raw;
    m.delivery = messaging::Delivery::kTransient;
    ASSERT_TRUE(run_->probe->publish(std::move(m)).get().ok());
    std::optional<messaging::RawMessage> dead;
    bool arrived = wonderland::testing::eventually(
        [&] {
          dead = run_->probe->get(messaging::QueueName{run_->queue + ".dead"});
          return dead.has_value();
        },
        10s);
    ASSERT_TRUE(arrived) << "no dead letter for " << raw.substr(0, 80) << run_->diagnostics();
    EXPECT_EQ(dead->body, raw);
    EXPECT_EQ(dead->string_headers["x-wonderland-queue"], run_->queue);
    EXPECT_EQ(dead->string_headers["x-wonderland-reason"].rfind("malformed message: ", 0), 0u)
        << dead->string_headers["x-wonderland-reason"];
    EXPECT_EQ(dead->int_headers["x-wonderland-attempt"], 1);
  }
  EXPECT_TRUE(run_->worker->running()) << run_->diagnostics();
  json w = finished(start(kAlice));
  EXPECT_EQ(w.value("status", ""), "completed") << w.dump(2) << run_->diagnostics();
}

TEST_F(PythonWorkerE2e, AWorkerKilledMidCommandIsRestartedAndTheWorkflowCompletes) {
  json input = kAlice;
  input["delay_ms"] = 2000;  // the printer takes 2 s: the worker dies in the middle
  const std::string id = start(input);
  bool printing = wonderland::testing::eventually(
      [&] { return run_->worker->log_tail(20).find("printing slowly") != std::string::npos; }, 10s);
  ASSERT_TRUE(printing) << workflow(id).dump(2) << run_->diagnostics();
  run_->worker->kill();
  run_->worker->start();
  json w = finished(id);
  ASSERT_EQ(w.value("status", ""), "completed") << w.dump(2) << run_->diagnostics();
  // The command the dead worker held came back from the broker, not from a retry of the engine.
  EXPECT_TRUE(records(w, "step_attempt_failed", "print").empty()) << w.dump(2);
  EXPECT_NE(run_->worker->log_tail(200).find("redelivered; attempt 2"), std::string::npos)
      << run_->diagnostics();
  EXPECT_EQ(output(w)["text"], "TO: ALICE LIDDELL\n1 Rabbit Hole, Oxford");
}

}  // namespace
