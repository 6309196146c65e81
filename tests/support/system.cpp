#include "wonderland/testing/system.hpp"

#include <fstream>
#include <stdexcept>
#include <thread>

#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/envelope.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/http_client.hpp"

namespace wonderland::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

/// Started in this order; the mediator comes last.
const char* const kServices[] = {"logging", "inventory", "customer", "payment", "notification"};

std::string describe(const HttpResponse& r) {
  std::string body = r.body.size() > 300 ? r.body.substr(0, 300) + "..." : r.body;
  return "HTTP " + std::to_string(r.status) + " " + body;
}

}  // namespace

/// The test's own broker connection: RPC probes and queue clean-up.
struct System::Broker {
  explicit Broker(const std::string& url)
      : connection(messaging::ConnectionOptions{.url = url, .service = "system-test"}),
        rpc(connection) {}
  messaging::Connection connection;
  messaging::RpcClient rpc;
};

System::System(SystemOptions options)
    : options_(std::move(options)),
      prefix_(options_.tag + "-" + fast_random_hex(6) + "."),
      dir_(options_.work_dir / ("run-" + fast_random_hex(6))),
      port_(free_tcp_port()) {}

System::~System() {
  stop();
}

std::string System::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string System::queue(const std::string& service) const {
  return service == "logging" ? prefix_ + "logging.query" : prefix_ + service + ".commands";
}

std::vector<std::string> System::queues() const {
  std::vector<std::string> out{prefix_ + "notification.events", prefix_ + "logging.records",
                               prefix_ + "logging.workflow"};
  for (const char* service : kServices)
    out.push_back(queue(service));
  return out;
}

void System::start() {
  const fs::path web = prepare_run_folder();
  schema_ = std::make_unique<ScopedSchema>(options_.tag + "_customer");
  const std::string amqp = amqp_url();
  broker_ = std::make_unique<Broker>(amqp);
  const Environment common{{"WONDERLAND_AMQP_URL", amqp},
                           {"WONDERLAND_LOG_LEVEL", "info"},
                           {"WONDERLAND_VAR_DIR", dir_.string()}};
  add_services(common);
  add_mediator(common, web);
  start_processes();
}

void System::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  // The mediator first, so that nothing is in flight when the services go.
  for (const char* name :
       {"mediator", "inventory", "customer", "payment", "notification", "logging"}) {
    if (processes_.count(name) != 0)
      processes_.at(name)->stop(15s);
  }
  if (broker_) {
    // Left bound, the logging queues would keep filling with every other system's logs.
    for (const auto& q : queues()) {
      for (const std::string& name : {q, q + ".dead"}) {
        try {
          broker_->connection.delete_queue(messaging::QueueName{name}, 5s);
        } catch (const std::exception&) {
          // Not there (or the broker is gone): nothing to clean up.
        }
      }
    }
  }
  broker_.reset();
  schema_.reset();
}

void System::remove_files() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

ChildProcess& System::process(const std::string& name) {
  auto it = processes_.find(name);
  if (it == processes_.end())
    throw std::out_of_range("no process '" + name + "' in this system");
  return *it->second;
}

void System::restart(const std::string& name, bool crash, std::chrono::milliseconds down_for) {
  if (crash) {
    process(name).kill();
  } else {
    process(name).stop(15s);
  }
  std::this_thread::sleep_for(down_for);
  process(name).start();
  if (name == "mediator") {
    await_mediator(60s);
  } else {
    await_service(name, 60s);
  }
}

std::string System::diagnostics() const {
  std::string out =
      "run folder " + dir_.string() + ", queue prefix " + prefix_ + ", " + base_url() + "\n";
  for (const auto& [name, p] : processes_)
    out += p->log_tail(60);
  return out;
}

Result<json> System::rpc(const std::string& service, const std::string& type, const json& body,
                         std::chrono::milliseconds timeout) {
  if (!broker_)
    return Error::of(codes::kFailedPrecondition, "the system is not started");
  messaging::RpcRequest request{messaging::QueueName{queue(service)},
                                messaging::Envelope::make(type, body, "system-test"), timeout,
                                messaging::Delivery::kTransient};
  auto reply = broker_->rpc.call(std::move(request));
  if (reply.wait_for(timeout + 5s) != std::future_status::ready) {
    return Error::of(codes::kDeadlineExceeded, "no reply to " + type);
  }
  auto result = reply.get();
  if (!result.ok())
    return result.error();
  return result.value().body;
}

json System::ledger(const std::string& order_id) {
  auto r = rpc("payment", "payment.get", json{{"order_id", order_id}});
  if (!r.ok())
    throw std::runtime_error("payment.get " + order_id + ": " + r.error().message);
  return r.value();
}

fs::path System::prepare_run_folder() const {
  fs::create_directories(dir_);
  fs::create_directories(outbox());
  fs::path web = options_.web_dir;
  if (web.empty()) {
    web = dir_ / "web";
    fs::create_directories(web);
    std::ofstream(web / "index.html") << "<!doctype html><title>Wonderland</title>\n";
  }
  write_catalogue();
  return web;
}

System::Environment System::environment(const std::string& name, Environment own,
                                        const Environment& common) const {
  if (auto it = options_.env.find(name); it != options_.env.end()) {
    for (const auto& [key, value] : it->second)
      own[key] = value;
  }
  own.insert(common.begin(), common.end());
  return own;
}

void System::add_services(const Environment& common) {
  add("logging", environment("logging",
                             {{"WONDERLAND_LOG_DIR", (dir_ / "log-store").string()},
                              {"WONDERLAND_QUEUE_PREFIX", prefix_}},
                             common));
  add("inventory", environment("inventory",
                               {{"WONDERLAND_INVENTORY_DB", (dir_ / "inventory.db").string()},
                                {"WONDERLAND_CATALOGUE", (dir_ / "catalogue.json").string()},
                                {"WONDERLAND_INVENTORY_QUEUE", queue("inventory")}},
                               common));
  add("customer", environment("customer",
                              {{"WONDERLAND_PG_URL", schema_->url()},
                               {"WONDERLAND_CUSTOMER_SCHEMA", schema_->name()},
                               {"WONDERLAND_CUSTOMER_QUEUE", queue("customer")},
                               {"WONDERLAND_CUSTOMER_WORKERS", "4"},
                               // The cheapest argon2id the service accepts: sign-ups stay fast.
                               {"WONDERLAND_ARGON2_OPSLIMIT", "1"},
                               {"WONDERLAND_ARGON2_MEMLIMIT_KIB", "8"}},
                              common));
  add("payment", environment("payment",
                             {{"WONDERLAND_PAYMENT_DB", (dir_ / "payment.db").string()},
                              {"WONDERLAND_PAYMENT_QUEUE", queue("payment")},
                              // Charges take a moment, as a real provider's would.
                              {"WONDERLAND_PAYMENT_LATENCY_MS", "100"}},
                             common));
  add("notification",
      environment("notification",
                  {{"WONDERLAND_NOTIFICATION_DB", (dir_ / "notification.db").string()},
                   {"WONDERLAND_OUTBOX_DIR", outbox().string()},
                   {"WONDERLAND_SMTP_HOST", ""},
                   {"WONDERLAND_NOTIFICATION_QUEUE", queue("notification")},
                   {"WONDERLAND_NOTIFICATION_EVENTS_QUEUE", prefix_ + "notification.events"}},
                  common));
}

void System::add_mediator(const Environment& common, const fs::path& web) {
  add("mediator", environment("mediator",
                              {{"WONDERLAND_HTTP_PORT", std::to_string(port_)},
                               {"WONDERLAND_HTTP_THREADS", "4"},
                               {"WONDERLAND_ADMIN_TOKEN", options_.admin_token},
                               {"WONDERLAND_JOURNAL_PATH", (dir_ / "journal.db").string()},
                               {"WONDERLAND_WORKFLOWS_DIR", source_dir() + "/workflows"},
                               {"WONDERLAND_WEB_DIR", web.string()},
                               {"WONDERLAND_QUEUE_PREFIX", prefix_},
                               // Many customers sign up and order from 127.0.0.1 in the
                               // tests: the throttles are off unless a test sets them.
                               {"WONDERLAND_SIGNUP_PER_MINUTE", "0"},
                               {"WONDERLAND_ORDERS_PER_MINUTE", "0"},
                               {"WONDERLAND_SIGNIN_USER_MAX_LOCKOUT_MS", "0"},
                               {"WONDERLAND_SIGNIN_ADDRESS_MAX_LOCKOUT_MS", "0"}},
                              common));
}

void System::start_processes() {
  for (const char* name : kServices)
    process(name).start();
  for (const char* name : kServices)
    await_service(name, 90s);
  process("mediator").start();
  await_mediator(60s);
}

void System::write_catalogue() const {
  json books = json::array();
  for (const auto& b : options_.catalogue) {
    books.push_back(json{{"isbn", b.isbn},
                         {"title", b.title},
                         {"author", b.author},
                         {"publisher", b.publisher},
                         {"price_cents", b.price_cents},
                         {"stock", b.stock}});
  }
  std::ofstream(dir_ / "catalogue.json") << json{{"books", books}}.dump(2) << "\n";
}

void System::add(const std::string& name, Environment env) {
  processes_[name] = std::make_unique<ChildProcess>(
      binary_path("wonderland-" + name), std::move(env), (dir_ / (name + ".log")).string());
}

void System::await_service(const std::string& name, std::chrono::milliseconds timeout) {
  // A harmless command per service; an error reply that is not transient counts: it is up.
  static const std::map<std::string, std::pair<std::string, json>> probes{
      {"inventory", {"inventory.get_book", json{{"isbn", "9780000000000"}}}},
      {"customer", {"customer.authenticate", json{{"token", "not-a-session"}}}},
      {"payment", {"payment.get", json{{"order_id", "00000000-0000-4000-8000-000000000000"}}}},
      {"notification",
       {"notification.list", json{{"customer_id", "00000000-0000-4000-8000-000000000000"}}}},
      {"logging", {"logs.query", json{{"limit", 1}}}}};
  const auto& [type, body] = probes.at(name);
  auto deadline = Clock::now() + timeout;
  std::string last = "no answer";
  while (Clock::now() < deadline) {
    if (!process(name).running())
      throw std::runtime_error(name + " exited during start");
    auto r = rpc(name, type, body, 1500ms);
    if (r.ok() || !r.error().retryable)
      return;
    last = std::string(to_string(r.error().code)) + ": " + r.error().message;
    std::this_thread::sleep_for(200ms);
  }
  throw std::runtime_error(name + " did not answer on " + queue(name) + " (" + last + ")");
}

void System::await_mediator(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (!wait_for_port(port_, timeout)) {
    throw std::runtime_error("the mediator does not listen on port " + std::to_string(port_));
  }
  HttpClient http(port_);
  std::string last;
  while (Clock::now() < deadline) {
    if (!process("mediator").running())
      throw std::runtime_error("the mediator exited during start");
    try {
      HttpResponse ready = http.get("/readyz");
      HttpResponse books = ready.status == 200 ? http.get("/api/books") : ready;
      if (books.status == 200)
        return;
      last = describe(books);
    } catch (const std::exception& e) {
      last = e.what();
    }
    std::this_thread::sleep_for(200ms);
  }
  throw std::runtime_error("the mediator is not ready: " + last);
}

}  // namespace wonderland::testing
