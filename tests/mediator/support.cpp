#include "support.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/sqlite/db.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::mediator_test {
namespace {

bool log_contains(const std::filesystem::path& file, const std::string& needle) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str().find(needle) != std::string::npos;
}

}  // namespace

Harness::Harness(const std::string& name, std::map<std::string, std::string> mediator_env,
                 std::size_t mediators) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("wl-" + name + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  prefix_ = "test." + name + "." + new_uuid().substr(0, 8) + ".";
  token_ = "admin-" + new_uuid();
  for (std::size_t i = 0; i < mediators; ++i) {
    Mediator m;
    // Reserved, not only free now: the port must stay this mediator's while it is down
    // between a kill and its restart, whatever the tests running beside it start meanwhile.
    m.port_reservation = testing::PortReservation::reserve();
    m.port = m.port_reservation.first();
    m.log =
        (dir_ / (i == 0 ? std::string("mediator.log") : "mediator-" + std::to_string(i) + ".log"))
            .string();
    m.env = mediator_env;
    m.env.insert({{"WONDERLAND_AMQP_URL", testing::amqp_url()},
                  {"WONDERLAND_HTTP_PORT", std::to_string(m.port)},
                  {"WONDERLAND_ADMIN_TOKEN", token_},
                  {"WONDERLAND_JOURNAL_PATH", (dir_ / "journal.db").string()},
                  {"WONDERLAND_WORKFLOWS_DIR", MEDIATOR_TEST_WORKFLOWS},
                  {"WONDERLAND_WEB_DIR", (dir_ / "no-web").string()},
                  {"WONDERLAND_QUEUE_PREFIX", prefix_},
                  {"WONDERLAND_LOG_LEVEL", "warn"}});
    mediators_.push_back(std::move(m));
  }
}

Harness::~Harness() {
  for (Mediator& m : mediators_) {
    if (m.process && m.process->pid() > 0) {
      ::kill(m.process->pid(), SIGCONT);  // a paused one could not stop
      m.process->stop(std::chrono::seconds(10));
    }
  }
  stop_worker();
  // The mediators' durable queue of signal events and its dead letters outlive them.
  try {
    messaging::ConnectionOptions o;
    o.url = testing::amqp_url();
    o.service = "mediator-test";
    messaging::Connection broker(o);
    for (const char* queue : {"mediator.signals", "mediator.signals.dead"})
      broker.delete_queue(messaging::QueueName{prefix_ + queue}, std::chrono::seconds(5));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "could not delete the signal queues of %s: %s\n", prefix_.c_str(),
                 e.what());
  }
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "kept %s (journal, worker database, logs) for a look\n", dir_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Harness::start_worker() {
  if (!worker_) {
    worker_ = std::make_unique<testing::ChildProcess>(
        MEDIATOR_TEST_WORKER,
        std::map<std::string, std::string>{{"WONDERLAND_AMQP_URL", testing::amqp_url()},
                                           {"WONDERLAND_QUEUE_PREFIX", prefix_},
                                           {"WONDERLAND_WORKER_DB", (dir_ / "worker.db").string()},
                                           {"WONDERLAND_WORKER_THREADS", "32"},
                                           {"WONDERLAND_WORKER_DELETE_QUEUES", "1"}},
        (dir_ / "worker.log").string());
  }
  worker_->start();
  bool ready = testing::eventually(
      [&] { return log_contains(dir_ / "worker.log", "worker ready"); }, std::chrono::seconds(30));
  if (!ready)
    throw std::runtime_error("the worker did not start:\n" + worker_->log_tail());
}

int Harness::stop_worker() {
  return worker_ ? worker_->stop(std::chrono::seconds(20)) : 0;
}

void Harness::set_mediator_env(std::size_t i, const std::string& key, const std::string& value) {
  Mediator& m = mediator(i);
  m.env[key] = value;
  if (m.process)
    m.process->env()[key] = value;
}

void Harness::launch_mediator(std::size_t i) {
  Mediator& m = mediator(i);
  if (!m.process) {
    m.process = std::make_unique<testing::ChildProcess>(testing::binary_path("wonderland-mediator"),
                                                        m.env, m.log);
  }
  m.process->start();
}

void Harness::start_mediator(std::size_t i) {
  launch_mediator(i);
  testing::ChildProcess& process = *mediator(i).process;
  std::string last = "no answer";
  bool exited = false;
  bool ready = testing::eventually(
      [&] {
        if (!process.running()) {
          exited = true;
          return true;
        }
        try {
          auto r = get("/readyz", "", i);
          last = std::to_string(r.status) + " " + r.body;
          return r.status == 200;
        } catch (const std::exception& e) {
          last = e.what();
          return false;
        }
      },
      std::chrono::seconds(30));
  if (exited)
    throw std::runtime_error("the mediator exited while starting:\n" + process.log_tail());
  if (!ready) {
    throw std::runtime_error("the mediator did not become ready (/readyz: " + last + "):\n" +
                             process.log_tail());
  }
}

void Harness::kill_mediator(std::size_t i) {
  if (mediator(i).process)
    mediator(i).process->kill();
}

void Harness::pause_mediator(std::size_t i) {
  if (mediator(i).process && mediator(i).process->pid() > 0)
    ::kill(mediator(i).process->pid(), SIGSTOP);
}

void Harness::resume_mediator(std::size_t i) {
  if (mediator(i).process && mediator(i).process->pid() > 0)
    ::kill(mediator(i).process->pid(), SIGCONT);
}

int Harness::stop_mediator(std::size_t i) {
  return mediator(i).process ? mediator(i).process->stop() : 0;
}

bool Harness::mediator_running(std::size_t i) {
  return mediator(i).process && mediator(i).process->running();
}

int Harness::mediator_exit_status(std::size_t i) const {
  const Mediator& m = mediators_.at(i);
  return m.process ? m.process->exit_status() : 0;
}

std::string Harness::mediator_log(std::size_t i) const {
  const Mediator& m = mediators_.at(i);
  return m.process ? m.process->log_tail(60) : "";
}
std::string Harness::worker_log() const {
  return worker_ ? worker_->log_tail(60) : "";
}

HttpResponse Harness::get(const std::string& target, const std::string& token, std::size_t i) {
  testing::HttpClient client(port(i));
  return client.get(target, token);
}

HttpResponse Harness::post(const std::string& target, const json& body, const std::string& token,
                           std::size_t i) {
  testing::HttpClient client(port(i));
  return client.post_json(target, body, token);
}

HttpResponse Harness::start(const std::string& definition, const json& input, const std::string& id,
                            std::size_t i) {
  json body{{"definition", definition}, {"input", input}};
  if (!id.empty())
    body["id"] = id;
  return post("/api/workflows", body, token_, i);
}

json Harness::workflow(const std::string& id, std::size_t i) {
  auto r = get("/api/workflows/" + id, token_, i);
  return r.status == 200 ? r.json() : json();
}

json Harness::wait_for(const std::string& id, const std::function<bool(const json&)>& pred,
                       std::chrono::milliseconds timeout, std::size_t i) {
  json last;
  bool ok = testing::eventually(
      [&] {
        try {
          last = workflow(id, i);
        } catch (const std::exception&) {
          return false;
        }
        return !last.is_null() && pred(last);
      },
      timeout);
  return ok ? last : json();
}

json Harness::wait_settled(const std::string& id, std::chrono::milliseconds timeout,
                           std::size_t i) {
  return wait_for(
      id, [](const json& v) { return v.value("status", "") != "running"; }, timeout, i);
}

std::vector<Effect> Harness::effects(const std::string& workflow_id) {
  sqlite::Db db((dir_ / "worker.db").string());
  std::string sql = "SELECT id, key, action, kind, workflow_id FROM effects";
  if (!workflow_id.empty())
    sql += " WHERE workflow_id = ?";
  sql += " ORDER BY id";
  auto q = db.prepare(sql);
  if (!workflow_id.empty())
    q.bind(1, workflow_id);
  std::vector<Effect> out;
  while (q.step())
    out.push_back(Effect{q.int64(0), q.text(1), q.text(2), q.text(3), q.text(4)});
  return out;
}

std::map<std::string, std::int64_t> Harness::deliveries() {
  sqlite::Db db((dir_ / "worker.db").string());
  auto q = db.prepare("SELECT key, count FROM deliveries");
  std::map<std::string, std::int64_t> out;
  while (q.step())
    out[q.text(0)] = q.int64(1);
  return out;
}

std::map<std::string, std::int64_t> Harness::suppressed() {
  sqlite::Db db((dir_ / "worker.db").string());
  auto q = db.prepare("SELECT key, suppressed FROM deliveries WHERE suppressed > 0");
  std::map<std::string, std::int64_t> out;
  while (q.step())
    out[q.text(0)] = q.int64(1);
  return out;
}

std::vector<json> records(const json& view, std::initializer_list<const char*> types) {
  std::vector<json> out;
  if (!view.contains("timeline"))
    return out;
  for (const json& r : view["timeline"]) {
    bool match = types.size() == 0;
    for (const char* t : types)
      match = match || r.value("type", "") == t;
    if (match)
      out.push_back(r);
  }
  return out;
}

std::size_t attempts_of(const json& view, const std::string& step) {
  std::size_t n = 0;
  for (const json& r : records(view, {"step_started", "step_attempt"}))
    n += r.value("step", "") == step ? 1 : 0;
  return n;
}

std::string last_started(const json& view) {
  auto started = records(view, {"step_started"});
  return started.empty() ? std::string() : started.back().value("step", "");
}

std::map<std::string, int> count_by_action(const std::vector<Effect>& effects) {
  std::map<std::string, int> out;
  for (const Effect& e : effects)
    ++out[e.action];
  return out;
}

bool is_terminal(const json& record) {
  static const char* kTerminal[] = {"completed", "failed", "cancelled", "needs_attention"};
  std::string type = record.value("type", "");
  for (const char* t : kTerminal) {
    if (type == t)
      return true;
  }
  return false;
}

std::int64_t at_ms(const json& record) {
  auto t = parse_iso8601(record.value("at", ""));
  return t ? std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count()
           : -1;
}

}  // namespace wonderland::mediator_test
