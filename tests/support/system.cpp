#include "wonderland/testing/system.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
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

}  // namespace

/// The test's own broker connection: RPC probes and queue clean-up.
struct System::Broker {
  Broker(const std::string& url, const std::string& queue_type)
      : connection(messaging::ConnectionOptions{
            .url = url,
            .queue_type = queue_type.empty() ? messaging::QueueType::kClassic
                                             : messaging::parse_queue_type(queue_type),
            .service = "system-test"}),
        rpc(connection) {}
  messaging::Connection connection;
  messaging::RpcClient rpc;
};

System::System(SystemOptions options)
    : options_(std::move(options)),
      prefix_(options_.tag + "-" + fast_random_hex(6) + "."),
      dir_(options_.work_dir / ("run-" + fast_random_hex(6))),
      port_(ports_.emplace_back(PortReservation::reserve()).first()) {
  if (options_.mediators < 1)
    throw std::invalid_argument("SystemOptions::mediators must be at least 1");
  if (options_.mediators == 1) {
    mediator_ports_["mediator"] = port_;
    return;
  }
  for (int i = 1; i <= options_.mediators; ++i) {
    const std::string name = "mediator-" + std::to_string(i);
    mediator_ports_[name] = ports_.emplace_back(PortReservation::reserve()).first();
    mediator_ids_[name] = new_uuid();
  }
}

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
                               prefix_ + "logging.workflow", prefix_ + "mediator.signals"};
  for (const char* service : kServices)
    out.push_back(queue(service));
  return out;
}

void System::start() {
  const fs::path web = prepare_run_folder();
  schema_ = std::make_unique<ScopedSchema>(options_.tag + "_customer");
  if (options_.mediators > 1)
    journal_schema_ = std::make_unique<ScopedSchema>(options_.tag + "_journal");
  const std::string amqp = options_.amqp_url.empty() ? amqp_url() : options_.amqp_url;
  broker_ = std::make_unique<Broker>(amqp, options_.amqp_queue_type);
  Environment common{{"WONDERLAND_AMQP_URL", amqp},
                     {"WONDERLAND_LOG_LEVEL", "info"},
                     {"WONDERLAND_VAR_DIR", dir_.string()}};
  if (!options_.amqp_queue_type.empty())
    common["WONDERLAND_AMQP_QUEUE_TYPE"] = options_.amqp_queue_type;
  add_services(common);
  add_mediator(common, web);
  start_processes();
}

void System::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  // The balancer and the mediators first, so that nothing is in flight when the services go.
  std::vector<std::string> order{"haproxy"};
  for (const auto& name : mediator_names())
    order.push_back(name);
  order.insert(order.end(), {"inventory", "customer", "payment", "notification", "logging"});
  for (const auto& name : order) {
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
  journal_schema_.reset();
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

std::vector<std::string> System::mediator_names() const {
  std::vector<std::string> names;
  for (const auto& [name, port] : mediator_ports_)
    names.push_back(name);
  return names;
}

int System::mediator_port(const std::string& name) const {
  auto it = mediator_ports_.find(name);
  if (it == mediator_ports_.end())
    throw std::out_of_range("no mediator '" + name + "' in this system");
  return it->second;
}

std::string System::mediator_id(const std::string& name) const {
  auto it = mediator_ids_.find(name);
  return it == mediator_ids_.end() ? std::string() : it->second;
}

void System::restart(const std::string& name, bool crash, std::chrono::milliseconds down_for) {
  if (crash) {
    process(name).kill();
  } else {
    process(name).stop(15s);
  }
  std::this_thread::sleep_for(down_for);
  process(name).start();
  if (name == "haproxy" || mediator_ports_.count(name) != 0) {
    await_mediator(name, 60s);
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
  for (const auto& [name, port] : mediator_ports_) {
    Environment own{{"WONDERLAND_HTTP_PORT", std::to_string(port)},
                    {"WONDERLAND_HTTP_THREADS", "4"},
                    {"WONDERLAND_ADMIN_TOKEN", options_.admin_token},
                    {"WONDERLAND_JOURNAL_PATH", (dir_ / "journal.db").string()},
                    {"WONDERLAND_WORKFLOWS_DIR", source_dir() + "/workflows"},
                    {"WONDERLAND_WEB_DIR", web.string()},
                    {"WONDERLAND_QUEUE_PREFIX", prefix_},
                    // Many customers sign up and order from 127.0.0.1 in the tests: the throttles
                    // are off unless a test sets them.
                    {"WONDERLAND_SIGNUP_PER_MINUTE", "0"},
                    {"WONDERLAND_ORDERS_PER_MINUTE", "0"},
                    {"WONDERLAND_SIGNIN_USER_MAX_LOCKOUT_MS", "0"},
                    {"WONDERLAND_SIGNIN_ADDRESS_MAX_LOCKOUT_MS", "0"}};
    if (journal_schema_) {
      own["WONDERLAND_JOURNAL_URL"] = journal_schema_->url();
      own["WONDERLAND_JOURNAL_SCHEMA"] = journal_schema_->name();
      own["WONDERLAND_MEDIATOR_ID"] = mediator_ids_.at(name);
      own["WONDERLAND_JOURNAL_LEASE_MS"] = "1000";
      own["WONDERLAND_HTTP_TRUSTED_PROXIES"] = "127.0.0.1";
    }
    Environment env = environment("mediator", std::move(own), common);
    add(name, std::move(env), binary_path("wonderland-mediator"));
  }
  if (journal_schema_)
    add_balancer();
}

void System::add_balancer() {
  const fs::path config = dir_ / "haproxy.cfg";
  std::ofstream out(config);
  out << "global\n"
         "  log stdout format iso local0 notice\n"
         "  maxconn 2048\n"
         "defaults\n"
         "  mode http\n"
         "  log global\n"
         "  option dontlognull\n"
         "  option http-server-close\n"
         "  timeout connect 2s\n"
         "  timeout http-request 15s\n"
         "  timeout http-keep-alive 15s\n"
         "  timeout queue 10s\n"
         "  timeout check 2s\n"
         "  timeout client 1h\n"
         "  timeout server 1h\n"
         "  timeout tunnel 1h\n"
         "  retries 3\n"
         "  option redispatch 1\n"
         "frontend public\n"
         "  bind 127.0.0.1:"
      << port_
      << "\n"
         "  http-request set-header X-Forwarded-For %[src]\n"
         "  default_backend mediators\n"
         "backend mediators\n"
         "  balance roundrobin\n"
         "  option httpchk GET /readyz\n"
         "  http-check expect status 200\n"
         "  default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2\n";
  for (const auto& [name, port] : mediator_ports_)
    out << "  server " << name << " 127.0.0.1:" << port << " check\n";
  out.close();
  if (!out)
    throw std::runtime_error("cannot write " + config.string());
  std::string program = "/usr/sbin/haproxy";
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string dirs = path;
    for (std::size_t start = 0; start <= dirs.size();) {
      auto colon = std::min(dirs.find(':', start), dirs.size());
      fs::path candidate = fs::path(dirs.substr(start, colon - start)) / "haproxy";
      if (colon > start && ::access(candidate.c_str(), X_OK) == 0) {
        program = candidate.string();
        break;
      }
      start = colon + 1;
    }
  }
  if (::access(program.c_str(), X_OK) != 0)
    throw std::runtime_error("haproxy is not installed (scripts/deps.sh installs it)");
  add("haproxy", {}, program, {"-db", "-f", config.string()});
}

void System::start_processes() {
  for (const char* name : kServices)
    process(name).start();
  for (const char* name : kServices)
    await_service(name, 90s);
  for (const auto& name : mediator_names())
    process(name).start();
  for (const auto& name : mediator_names())
    await_mediator(name, 60s);
  if (processes_.count("haproxy") != 0) {
    process("haproxy").start();
    await_mediator("haproxy", 30s);
  }
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

void System::add(const std::string& name, Environment env, std::string program,
                 std::vector<std::string> args) {
  if (program.empty())
    program = binary_path("wonderland-" + name);
  processes_[name] = std::make_unique<ChildProcess>(
      std::move(program), std::move(env), (dir_ / (name + ".log")).string(), std::move(args));
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

void System::await_mediator(const std::string& name, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  const int port = name == "haproxy" ? port_ : mediator_port(name);
  if (!wait_for_port(port, timeout)) {
    throw std::runtime_error(name + " does not listen on port " + std::to_string(port));
  }
  HttpClient http(port);
  std::string last;
  while (Clock::now() < deadline) {
    if (!process(name).running())
      throw std::runtime_error(name + " exited during start");
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
  throw std::runtime_error(name + " is not ready: " + last);
}

}  // namespace wonderland::testing
