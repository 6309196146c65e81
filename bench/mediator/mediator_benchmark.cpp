// Orchestration over RabbitMQ: the workflow engine wired as the mediator wires it (AmqpTransport,
// SQLite journal with synchronous=FULL, system clock) driving five-step workflows against echo
// workers running as separate processes (mediator_test_worker in echo mode). Measured in the same
// run:
//
//   1. the broker's raw RPC limit: a minimal rabbitmq-c echo client and server, with transient
//      requests and with persistent requests to a durable queue under publisher confirms (the
//      mediator's commands are transient by default, persistent with --persistent-commands, as
//      WONDERLAND_COMMAND_DELIVERY=persistent makes them);
//   2. five-step workflows completed per second and their start-to-finish latency (p50, p99) at
//      1, 64 and 512 in flight (closed loop), and workflows/s x 5 against the raw limits (each
//      workflow is five round trips); one more row repeats the highest level with the mediator's
//      observers (step histograms and the workflow event feed); after the table, the floor at 1
//      in flight (the same waits with nothing else: bench::serial_write_ahead) and how far each
//      command, each commit and the engine's own work are above it;
//   3. memory per in-flight workflow: the resident memory (VmRSS) that N workflows parked at
//      their third step (a command queue without consumers) add to a wonderland-mediator
//      process, started through its operator API, divided by N; and the same for the engine in
//      this process;
//   4. signals through a wonderland-mediator process: workflows parked on a signal step are
//      signalled one at a time with POST /api/workflows/{id}/signals/{name}; the time from
//      sending the request to the next step's command reaching its queue's consumer (in this
//      process), p50 and p99.
//
// With --rounds R (2 or more), one more section measures the figures the targets are read from R
// times, each in turn with what it is compared against: at 1 in flight the workflows and the
// floor, at the highest level the raw transient limit, the workflows and the workflows with the
// observers. It prints them combined and round by round, so that a host whose speed drifts
// during the run weighs on both sides of each ratio alike.
//
// With --history FILE, the SQLite journal starts as a copy of FILE (for example one that
// history_benchmark --running 0 --keep filled: finished workflows only, since this engine knows
// only its own definitions), so that the figures include a long history's effect on the
// journal's writes.
//
//   build/bench/mediator/mediator_benchmark --url amqp://guest:guest@127.0.0.1:5672/
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "wonderland/bench/durable_write.hpp"
#include "wonderland/bench/heap.hpp"
#include "wonderland/bench/process.hpp"
#include "wonderland/bench/raw_rpc.hpp"
#include "wonderland/bench/stats.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/mediator/amqp_transport.hpp"
#include "wonderland/mediator/event_feed.hpp"
#include "wonderland/mediator/metrics.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/runtime/periodic.hpp"
#include "wonderland/workflow/engine.hpp"
#include "wonderland/workflow/sqlite_journal.hpp"
#include "wonderland/workflow_pg/pg_journal.hpp"

extern char** environ;

namespace {

using namespace wonderland;  // NOLINT
using nlohmann::json;
using Clock = std::chrono::steady_clock;

using bench::Figures;
using bench::ms_between;
using bench::summarize;

// ---------------------------------------------------------------------------------------------
// Processes: the echo workers and the mediator.

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("bind");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// ---------------------------------------------------------------------------------------------
// Workflows.

json five_steps(const std::string& name, const std::string& third_service, int third_timeout_ms) {
  json steps = json::array();
  const char* ids[] = {"a", "b", "c", "d", "e"};
  for (int i = 0; i < 5; ++i) {
    std::string id = ids[i];
    json input = {{"order_id", "${workflow.id}"}, {"customer_id", "${input.customer_id}"}};
    if (i > 0)
      input["previous"] = std::string("${steps.") + ids[i - 1] + ".output.order_id}";
    std::string service = i == 2 ? third_service : "echo";
    json step = {
        {"id", id},
        {"kind", "task"},
        {"service", service},
        {"action", service + "." + id},
        {"input", input},
        {"compensation",
         {{"action", service + "." + id + ".undo"}, {"input", {{"order_id", "${workflow.id}"}}}}}};
    if (i == 2)
      step["timeout_ms"] = third_timeout_ms;
    steps.push_back(step);
  }
  return json{{"name", name}, {"version", 1}, {"steps", steps}};
}

/// Measures the round trip of every command (send to reply), to tell the broker's and the
/// worker's share of a workflow's latency from the engine's and the journal's. The samples are
/// shared with the reply callbacks: a reply that arrives after the rig is gone (a parked
/// workflow's command, failed when the connection closes) still finds them.
class TimedTransport final : public workflow::Transport {
 public:
  explicit TimedTransport(workflow::Transport& inner) : inner_(inner) {}

  void send(workflow::Command command, workflow::ReplyCallback done) override {
    const auto t0 = Clock::now();
    inner_.send(std::move(command),
                [samples = samples_, t0, done = std::move(done)](Result<json> reply) {
                  const double ms = ms_between(t0, Clock::now());
                  {
                    std::lock_guard lock(samples->mu);
                    if (samples->measuring)
                      samples->ms.push_back(ms);
                  }
                  done(std::move(reply));
                });
  }
  void publish(workflow::Publication publication, workflow::PublishCallback done) override {
    inner_.publish(std::move(publication), std::move(done));
  }

  void measure(bool on) {
    std::lock_guard lock(samples_->mu);
    samples_->measuring = on;
    if (on)
      samples_->ms.clear();
  }
  /// The median round trip of the commands sent while measuring.
  double p50_ms() {
    std::lock_guard lock(samples_->mu);
    return summarize(samples_->ms, 1).p50_ms;
  }

 private:
  struct Samples {
    std::mutex mu;
    bool measuring = false;
    std::vector<double> ms;
  };
  workflow::Transport& inner_;
  std::shared_ptr<Samples> samples_ = std::make_shared<Samples>();
};

/// Start times and latencies of workflows; drives the closed loop from the engine thread.
class Driver {
 public:
  void attach(workflow::Engine* engine, TimedTransport* transport) {
    engine_ = engine;
    transport_ = transport;
  }

  workflow::Observer observer() {
    return [this](const workflow::WorkflowEvent& e) {
      const auto& r = e.record;
      if (r.type == workflow::events::kStepStarted && r.step == "c" && e.definition == "parking") {
        std::lock_guard lock(mu_);
        ++parked_;
        cv_.notify_all();
        return;
      }
      if (!r.status || !workflow::is_settled(*r.status) || e.definition != "five")
        return;
      const auto now = Clock::now();
      bool again = false;
      {
        std::lock_guard lock(mu_);
        auto it = started_.find(r.workflow_id);
        if (it != started_.end()) {
          if (measuring_)
            latencies_.push_back(ms_between(it->second, now));
          started_.erase(it);
        }
        if (r.type != workflow::events::kCompleted)
          ++not_completed_;
        ++settled_;
        --outstanding_;
        again = issuing_;
        cv_.notify_all();
      }
      if (again)
        issue("five");
    };
  }

  void issue(const std::string& definition) {
    const bool counted = definition == "five";
    if (counted) {
      std::lock_guard lock(mu_);
      ++outstanding_;
    }
    // The start callback runs on the engine thread before any later event of the workflow, so
    // the start time is known when the workflow settles. (No id is given: with one, the engine
    // would first ask the journal whether it is taken.)
    const auto t0 = Clock::now();
    engine_->start(
        workflow::StartRequest{.definition = definition,
                               .input = json{{"customer_id", "customer-" + std::to_string(++n_)}}},
        [this, t0, counted](Result<std::string> id) {
          std::lock_guard lock(mu_);
          if (!id) {
            ++start_failures_;
            if (counted)
              --outstanding_;
            cv_.notify_all();
            return;
          }
          if (counted)
            started_.emplace(std::move(id.value()), t0);
        });
  }

  /// Keeps `inflight` workflows running; measures for `seconds` after a warm-up; then drains.
  Figures run(int inflight, double warmup, double seconds) {
    {
      std::lock_guard lock(mu_);
      issuing_ = true;
      measuring_ = false;
      latencies_.clear();
    }
    for (int i = 0; i < inflight; ++i)
      issue("five");
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
    {
      std::lock_guard lock(mu_);
      measuring_ = true;
    }
    transport_->measure(true);
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    std::vector<double> latencies;
    transport_->measure(false);
    {
      std::lock_guard lock(mu_);
      measuring_ = false;
      issuing_ = false;
      latencies.swap(latencies_);
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(60), [&] { return outstanding_ == 0; })) {
      std::fprintf(stderr, "warning: %ld workflows still running after 60 s\n", outstanding_);
    }
    return summarize(std::move(latencies), elapsed);
  }

  bool wait_parked(long n, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return parked_ >= n; });
  }

  long not_completed() {
    std::lock_guard lock(mu_);
    return not_completed_ + start_failures_;
  }

  /// Five-step workflows settled so far, warm-ups included.
  long settled() {
    std::lock_guard lock(mu_);
    return settled_;
  }

 private:
  workflow::Engine* engine_ = nullptr;
  TimedTransport* transport_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Clock::time_point> started_;
  std::vector<double> latencies_;
  bool issuing_ = false;
  bool measuring_ = false;
  long outstanding_ = 0;
  long not_completed_ = 0;
  long settled_ = 0;
  long start_failures_ = 0;
  long parked_ = 0;
  std::atomic<long> n_{0};
};

struct Options {
  std::string url;
  std::string worker;
  std::string mediator;
  std::vector<int> inflight{1, 64, 512};
  double seconds = 5;
  double raw_seconds = 3;
  int workers = 1;
  int parked = 5000;
  int signals = 300;  ///< Workflows signalled one at a time for the signal figures; 0: skip.
  bool observers_row = true;
  /// With more than 1: the interleaved section (run_rounds) after the table.
  int rounds = 1;
  bool normal_sync = false;
  bool persistent_commands = false;
  std::string dir;
  /// A SQLite journal to start from (copied): the workflows run with that history behind them.
  std::string history;
  std::string journal_url;  ///< Also the rows with the PostgreSQL journal (empty: skip them).
  /// With journal_url: the table of N wonderland-mediator processes sharing one journal.
  std::vector<int> mediators;
};

/// What the floor of the latency at one in flight is computed from (see print_floor).
struct FloorInputs {
  double commits_per_workflow = 0;  ///< journal transactions per five-step workflow
  double workflow_p50_ms = 0;       ///< measured
  double raw_p50_ms = 0;            ///< one raw transient round trip, same level
  double command_p50_ms = 0;        ///< one command, sent to reply handed back, same cell
  workflow::CommitLatency commits;  ///< the journal's commits in the same cell
};

/// The lowest p50 any write-ahead engine could reach here at one in flight: a command leaves only
/// once the record that decides it is durable, so each workflow pays its five round trips and its
/// journal commits one after another, and each commit at least one durable write.
/// `serial` is such an engine with nothing in it but its waits, run here one workflow at a time
/// (bench::serial_write_ahead): the sum of parts measured alone leaves out what they do to each
/// other, so it is the floor to set the measured p50 against, part by part.
void print_floor(const FloorInputs& f, const Figures& write, const bench::SerialWriteAhead& serial,
                 const std::filesystem::path& dir) {
  const double sum_ms = 5 * f.raw_p50_ms + f.commits_per_workflow * write.p50_ms;
  const double floor_ms = serial.workflows.p50_ms;
  const double commit_p50_ms = 1000.0 * f.commits.quantile(0.5);
  std::printf(
      "Floor at 1 in flight (write-ahead: each command waits for the commit that decides it)\n\n"
      "- journal commits per workflow: %.2f\n"
      "- parts measured alone: one durable write in %s (4 KiB pwrite + fdatasync, %zu samples) p50 "
      "%.3f ms; 5 x %.3f ms (raw transient round trip p50) + %.2f x %.3f ms = %.2f ms\n"
      "- floor: the same waits one after another on one thread with nothing else (a durable "
      "write, then 5 x a raw round trip and a durable write; %zu workflows): p50 %.2f ms, p99 "
      "%.2f ms; its round trips p50 %.3f ms, its writes p50 %.3f ms\n"
      "- measured p50 %.2f ms, %.2f ms above the floor: each command %.3f ms over the floor's "
      "round trip (engine to I/O thread, messaging library on both ends, envelopes), each commit "
      "%.3f ms over its write (SQLite's transaction), and the engine's own work (below)\n\n",
      f.commits_per_workflow, dir.c_str(), write.samples, write.p50_ms, f.raw_p50_ms,
      f.commits_per_workflow, write.p50_ms, sum_ms, serial.workflows.samples, floor_ms,
      serial.workflows.p99_ms, serial.round_trips.p50_ms, serial.writes.p50_ms, f.workflow_p50_ms,
      f.workflow_p50_ms - floor_ms, f.command_p50_ms - serial.round_trips.p50_ms,
      commit_p50_ms - serial.writes.p50_ms);
  // The same sum with what the commits and the commands took in the cell itself: the rest is
  // what the engine does between them.
  const double parts_ms = 5 * f.command_p50_ms + f.commits_per_workflow * commit_p50_ms;
  std::printf(
      "Where the p50 at 1 in flight went, from the same cell\n\n"
      "- the journal's commits, each from its transaction's start until durable (JournalStats, "
      "interpolated in its buckets): p50 %.3f ms, p99 %.3f ms over %llu commits\n"
      "- 5 x %.3f ms (command p50) + %.2f x %.3f ms (commit p50) = %.2f ms of the measured %.2f "
      "ms; the engine's own work between them %.2f ms\n\n",
      commit_p50_ms, 1000.0 * f.commits.quantile(0.99),
      static_cast<unsigned long long>(f.commits.count), f.command_p50_ms, f.commits_per_workflow,
      commit_p50_ms, parts_ms, f.workflow_p50_ms, f.workflow_p50_ms - parts_ms);
}

/// The engine as the mediator wires it: AmqpTransport, SQLite journal, system clock and,
/// optionally, the mediator's observers (step histograms and the event feed).
struct Rig {
  Rig(messaging::Connection& connection, const workflow::DefinitionRegistry& registry,
      const std::filesystem::path& journal_path, const std::string& prefix, bool observers,
      bool normal_sync, bool persistent_commands)
      : Rig(connection, registry,
            workflow::open_sqlite_journal({.path = journal_path, .full_sync = !normal_sync})
                .value(),
            prefix, observers, persistent_commands) {}
  Rig(messaging::Connection& connection, const workflow::DefinitionRegistry& registry,
      std::unique_ptr<workflow::Journal> journal_, const std::string& prefix, bool observers,
      bool persistent_commands)
      : journal(std::move(journal_)),
        transport(connection,
                  mediator::TransportOptions{
                      .queue_prefix = prefix,
                      .command_delivery = persistent_commands ? messaging::Delivery::kPersistent
                                                              : messaging::Delivery::kTransient}),
        timed(transport),
        histograms(registry) {
    workflow::EngineOptions eo;
    eo.observers.push_back(driver.observer());
    if (observers) {
      feed = std::make_unique<mediator::EventFeed>(connection, messaging::exchanges::kWorkflow);
      eo.observers.push_back(histograms.observer());
      eo.observers.push_back(feed->observer());
    }
    engine = workflow::Engine::create(eo, registry, *journal, timed, clock).value();
    driver.attach(engine.get(), &timed);
  }
  ~Rig() {
    engine.reset();  // before the observers it calls
    feed.reset();
  }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  std::unique_ptr<workflow::Journal> journal;
  mediator::AmqpTransport transport;
  TimedTransport timed;
  workflow::SystemClock clock;
  mediator::StepHistograms histograms;
  std::unique_ptr<mediator::EventFeed> feed;
  Driver driver;
  std::unique_ptr<workflow::Engine> engine;
};

/// A wonderland-mediator process on a free port, ready (GET /readyz answered 200), with an HTTP
/// client and the admin token. `env` adds to or overrides the common settings.
struct MediatorProcess {
  MediatorProcess(const Options& opt, const std::filesystem::path& dir, const std::string& prefix,
                  const std::filesystem::path& defs, const std::string& name,
                  const std::map<std::string, std::string>& env)
      : port(free_port()), token("bench-" + new_uuid()) {
    std::map<std::string, std::string> all{
        {"WONDERLAND_AMQP_URL", opt.url},
        {"WONDERLAND_HTTP_PORT", std::to_string(port)},
        {"WONDERLAND_ADMIN_TOKEN", token},
        {"WONDERLAND_WORKFLOWS_DIR", defs.string()},
        {"WONDERLAND_WEB_DIR", (dir / "no-web").string()},
        {"WONDERLAND_QUEUE_PREFIX", prefix},
        {"WONDERLAND_COMMAND_DELIVERY", opt.persistent_commands ? "persistent" : "transient"},
        {"WONDERLAND_LOG_LEVEL", "warning"},
        // The parking workflow's queue has no consumer on purpose: ready without one.
        {"WONDERLAND_READYZ_REQUIRE_CONSUMERS", "0"}};
    for (const auto& [k, v] : env)
      all[k] = v;
    process = std::make_unique<bench::ChildProcess>(opt.mediator, all, dir / (name + ".log"));
    http = std::make_unique<bench::LocalHttpClient>(port);
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    for (;;) {
      if (process->exited())
        throw std::runtime_error(name + " exited:\n" + process->log());
      try {
        if (http->request(boost::beast::http::verb::get, "/readyz", "").first == 200)
          break;
      } catch (const std::exception&) {
      }
      if (Clock::now() > deadline)
        throw std::runtime_error(name + " did not become ready:\n" + process->log());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  /// GET /api/metrics.
  json metrics() {
    auto [status, body] = http->request(boost::beast::http::verb::get, "/api/metrics", token);
    if (status != 200)
      throw std::runtime_error("GET /api/metrics: " + std::to_string(status) + " " + body);
    return json::parse(body);
  }

  int port;
  std::string token;
  std::unique_ptr<bench::ChildProcess> process;
  std::unique_ptr<bench::LocalHttpClient> http;
};

/// Memory of a wonderland-mediator process: its VmRSS before and after `parked` workflows of
/// definition `parking` were started through POST /api/workflows and reached their third step.
struct MediatorMemory {
  long before_kib = 0;
  long after_kib = 0;
  long in_flight = 0;
  bool all_parked = false;
};

MediatorMemory measure_mediator(const Options& opt, const std::filesystem::path& dir,
                                const std::string& prefix) {
  const std::filesystem::path defs = dir / "workflows";
  std::filesystem::create_directories(defs);
  std::ofstream(defs / "parking.json") << five_steps("parking", "park", 600000).dump(2);
  MediatorProcess started(opt, dir, prefix, defs, "mediator",
                          {{"WONDERLAND_JOURNAL_PATH", (dir / "mediator-journal.db").string()}});
  bench::ChildProcess& mediator = *started.process;
  bench::LocalHttpClient& http = *started.http;
  const std::string& token = started.token;
  namespace bh = boost::beast::http;
  auto metrics = [&] { return started.metrics(); };
  // How many workflows passed their second step (and so started their third).
  auto parked = [&] {
    const json m = metrics();
    for (const json& s : m["steps"]) {
      if (s.value("action", "") == "echo.b")
        return s.value("count", 0L);
    }
    return 0L;
  };
  // Warm up the paths (HTTP, journal, transport, observers) with a few workflows first.
  const int warm = std::min(100, opt.parked);
  auto start_n = [&](int n) {
    const std::string body =
        json{{"definition", "parking"}, {"input", {{"customer_id", "customer-1"}}}}.dump();
    for (int i = 0; i < n; ++i) {
      auto [status, text] = http.request(bh::verb::post, "/api/workflows", token, body);
      if (status != 202)
        throw std::runtime_error("POST /api/workflows: " + std::to_string(status) + " " + text);
    }
  };
  auto wait_parked = [&](long n) {
    const auto until = Clock::now() + std::chrono::seconds(120);
    while (parked() < n) {
      if (Clock::now() > until) {
        std::fprintf(stderr, "mediator metrics: %s\n", metrics().dump().c_str());
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the feed and I/O settle
    return true;
  };
  start_n(warm);
  wait_parked(warm);
  MediatorMemory m;
  m.before_kib = bench::rss_kib(std::to_string(mediator.pid()));
  start_n(opt.parked);
  m.all_parked = wait_parked(warm + opt.parked);
  m.after_kib = bench::rss_kib(std::to_string(mediator.pid()));
  m.in_flight = metrics()["workflows"].value("in_flight", 0L) - warm;
  mediator.stop();
  return m;
}

/// Signal to next command through a wonderland-mediator process: `opt.signals` workflows of
/// definition `signalled` (a signal step, then a task of service `sig`) are started through the
/// operator API and, once each one waits, signalled one at a time by HTTP; the `sig` queue is
/// served here, so the command's arrival is timed in the same clock as the request.
struct SignalLatency {
  Figures figures;
  long not_parked = 0;
};

SignalLatency measure_signals(const Options& opt, const std::filesystem::path& dir,
                              const std::string& prefix, messaging::Connection& connection) {
  const std::filesystem::path defs = dir / "signal-workflows";
  std::filesystem::create_directories(defs);
  const json definition = {
      {"name", "signalled"},
      {"version", 1},
      {"steps",
       json::array({json{{"id", "s"}, {"kind", "signal"}, {"signal", "go"}, {"timeout_ms", 600000}},
                    json{{"id", "b"},
                         {"kind", "task"},
                         {"service", "sig"},
                         {"action", "sig.b"},
                         {"input", {{"order_id", "${workflow.id}"}}}}})}};
  std::ofstream(defs / "signalled.json") << definition.dump(2);

  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<std::string, Clock::time_point> arrived;
  const messaging::QueueName queue{prefix + "sig.commands"};
  auto server = std::make_unique<messaging::RpcServer>(
      connection, messaging::RpcServerOptions{.queue = queue},
      [&](const messaging::Envelope& request) -> Result<json> {
        const auto now = Clock::now();
        std::lock_guard lock(mu);
        arrived.emplace(request.correlation_id, now);
        cv.notify_all();
        return json::object();
      });
  MediatorProcess started(opt, dir, prefix, defs, "mediator-signals",
                          {{"WONDERLAND_JOURNAL_PATH", (dir / "signals-journal.db").string()}});
  bench::LocalHttpClient& http = *started.http;
  namespace bh = boost::beast::http;
  auto post = [&](const std::string& target, const json& body) {
    auto [status, text] = http.request(bh::verb::post, target, started.token, body.dump());
    if (status != 202)
      throw std::runtime_error("POST " + target + ": " + std::to_string(status) + " " + text);
  };
  // Whether the workflow's signal step started (its view shows the step waiting).
  auto waiting = [&](const std::string& id) {
    auto [status, text] =
        http.request(bh::verb::get, "/api/workflows/" + id, started.token, std::string{});
    return status == 200 && text.find("\"step_started\"") != std::string::npos;
  };
  const int warm = 20;
  std::vector<std::string> ids;
  for (int i = 0; i < warm + opt.signals; ++i) {
    ids.push_back(new_uuid());
    post("/api/workflows", json{{"definition", "signalled"}, {"id", ids.back()}});
  }
  SignalLatency out;
  std::vector<double> latencies;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    const auto parked_by = Clock::now() + std::chrono::seconds(10);
    while (!waiting(id) && Clock::now() < parked_by)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (Clock::now() >= parked_by)
      ++out.not_parked;
    const auto sent = Clock::now();
    post("/api/workflows/" + id + "/signals/go", json{{"signal_id", "bench-" + id}});
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return arrived.count(id) > 0; }))
      throw std::runtime_error("no command after the signal of workflow " + id);
    if (i >= static_cast<std::size_t>(warm))
      latencies.push_back(ms_between(sent, arrived[id]));
  }
  out.figures =
      summarize(std::move(latencies), std::chrono::duration<double>(Clock::now() - t0).count());
  started.process->stop();
  server.reset();
  connection.delete_queue(queue);
  connection.delete_queue(messaging::dead_letter_queue_for(queue));
  return out;
}

/// The workflow rows again with the PostgreSQL journal that several mediators share (one
/// mediator here: group commit with fencing, leases of the default 3 s), in a schema of its own
/// that is dropped afterwards. Returns the workflows not completed.
template <class PrintRow>
long run_postgres_rows(const Options& opt, messaging::Connection& connection,
                       const workflow::DefinitionRegistry& registry, const std::string& prefix,
                       const PrintRow& print_row) {
  const std::string schema = "bench_" + random_hex(6);
  long not_completed = 0;
  {
    auto pg = workflow::open_pg_journal(
        {.url = opt.journal_url, .schema = schema, .instance_id = new_uuid()});
    if (!pg)
      throw std::runtime_error(pg.error().message);
    Rig rig(connection, registry, std::move(*pg), prefix, false, opt.persistent_commands);
    // As the mediator does: renew the leases every lease / 3, or they lapse and the engine
    // drops its workflows.
    runtime::Periodic leases("journal leases", std::chrono::milliseconds(1000),
                             [&rig] { (void)rig.engine->maintain_ownership(); });
    rig.driver.run(16, 1.0, 1.0);
    for (int n : opt.inflight) {
      const double c0 = bench::own_cpu_seconds();
      Figures w = rig.driver.run(n, 1.0, opt.seconds);
      print_row(std::to_string(n) + " PostgreSQL⁴", w, rig.timed.p50_ms(),
                1000.0 * (bench::own_cpu_seconds() - c0));
    }
    not_completed = rig.driver.not_completed();
  }
  pqxx::connection conn(opt.journal_url);
  pqxx::work tx(conn);
  tx.exec("DROP SCHEMA IF EXISTS " + tx.quote_name(schema) + " CASCADE");
  tx.commit();
  return not_completed;
}

/// One row of the shared-journal table.
struct SharedRow {
  int mediators = 0;
  double per_second = 0;
  std::vector<double> cpu_ms_per_wf;  ///< Each mediator's CPU per workflow completed by all.
  long not_completed = 0;
};

/// `n` wonderland-mediator processes on one PostgreSQL journal (a schema of their own, dropped
/// afterwards), each with its leases, its HTTP API and its AMQP connection. Workflows are
/// started through POST /api/workflows round robin over the mediators (so each owns a share),
/// keeping `in_flight` running in all; measured for opt.seconds after a one-second warm-up.
SharedRow run_shared_journal(const Options& opt, const std::filesystem::path& dir,
                             const std::string& prefix, int n, int in_flight) {
  const std::string schema = "bench_shared_" + random_hex(6);
  const std::filesystem::path defs = dir / ("shared-" + std::to_string(n));
  std::filesystem::create_directories(defs);
  std::ofstream(defs / "five.json") << five_steps("five", "echo", 5000).dump(2);
  SharedRow row;
  row.mediators = n;
  {
    std::vector<std::unique_ptr<MediatorProcess>> ms;
    for (int i = 0; i < n; ++i) {
      ms.push_back(std::make_unique<MediatorProcess>(
          opt, dir, prefix, defs, "shared-" + std::to_string(n) + "-" + std::to_string(i),
          std::map<std::string, std::string>{{"WONDERLAND_JOURNAL_URL", opt.journal_url},
                                             {"WONDERLAND_JOURNAL_SCHEMA", schema},
                                             {"WONDERLAND_MEDIATOR_ID", new_uuid()}}));
    }
    namespace bh = boost::beast::http;
    const std::string body =
        json{{"definition", "five"}, {"input", {{"customer_id", "customer-1"}}}}.dump();
    auto totals = [&] {
      long completed = 0;
      long failed = 0;
      for (auto& m : ms) {
        const json w = m->metrics()["workflows"];
        completed += w.value("completed", 0L);
        failed += w.value("failed", 0L) + w.value("cancelled", 0L);
      }
      return std::pair{completed, failed};
    };
    // Closed loop: submitter threads, each on its own connection to one mediator, keep
    // `in_flight` workflows running in all; the finished count comes from the mediators'
    // metrics. A start is answered once it is durable, so one submitter alone would measure
    // the journal's commit latency, not the mediators.
    std::atomic<long> submitted{0};
    std::atomic<long> finished{0};
    std::atomic<bool> stop{false};
    std::atomic<bool> failed_submit{false};
    std::string submit_error;
    std::mutex error_mu;
    const int submitters = std::max(n, std::min(32, in_flight));
    std::vector<std::thread> threads;
    for (int t = 0; t < submitters; ++t) {
      threads.emplace_back([&, t] {
        MediatorProcess& m = *ms[static_cast<std::size_t>(t % n)];
        bench::LocalHttpClient http(m.port);
        try {
          while (!stop) {
            if (submitted.load() - finished.load() >= in_flight) {
              std::this_thread::sleep_for(std::chrono::microseconds(500));
              continue;
            }
            ++submitted;
            auto [status, text] = http.request(bh::verb::post, "/api/workflows", m.token, body);
            if (status != 202)
              throw std::runtime_error("POST /api/workflows: " + std::to_string(status) + " " +
                                       text);
          }
        } catch (const std::exception& e) {
          std::lock_guard lock(error_mu);
          submit_error = e.what();
          failed_submit = true;
          stop = true;
        }
      });
    }
    auto watch = [&](double seconds) {
      const auto until = Clock::now() + std::chrono::duration<double>(seconds);
      long completed = 0;
      while (Clock::now() < until && !failed_submit) {
        auto [c, f] = totals();
        completed = c;
        finished = c + f;
        // Often enough to keep the level, seldom enough that the metrics cost the mediators
        // little (one GET each per poll).
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      return completed;
    };
    const long c0 = watch(1.0);
    std::vector<double> cpu0;
    for (auto& m : ms)
      cpu0.push_back(bench::process_cpu_seconds(m->process->pid()));
    const auto t0 = Clock::now();
    const long done = watch(opt.seconds) - c0;
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> cpu1;
    for (auto& m : ms)
      cpu1.push_back(bench::process_cpu_seconds(m->process->pid()));
    stop = true;
    for (auto& t : threads)
      t.join();
    if (failed_submit)
      throw std::runtime_error(submit_error);
    row.per_second = static_cast<double>(done) / elapsed;
    for (std::size_t i = 0; i < ms.size(); ++i) {
      row.cpu_ms_per_wf.push_back(
          done > 0 ? 1000.0 * (cpu1[i] - cpu0[i]) / static_cast<double>(done) : 0.0);
    }
    // Let the rest finish, then count what did not complete.
    const auto drain_until = Clock::now() + std::chrono::seconds(30);
    for (;;) {
      auto [completed, failed] = totals();
      row.not_completed = submitted.load() - completed;
      if (completed + failed >= submitted.load() || Clock::now() > drain_until)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  pqxx::connection conn(opt.journal_url);
  pqxx::work tx(conn);
  tx.exec("DROP SCHEMA IF EXISTS " + tx.quote_name(schema) + " CASCADE");
  tx.commit();
  return row;
}

/// One cell of workflows on a fresh rig with a journal file of its own: warmed up, then `level`
/// in flight for --seconds. With this process's CPU time over the cell and the commands' p50.
struct FreshCell {
  Figures workflows;
  double command_p50_ms = 0;
  double cpu_ms = 0;
  long not_completed = 0;
};

FreshCell fresh_rig_cell(const Options& opt, messaging::Connection& connection,
                         const workflow::DefinitionRegistry& registry,
                         const std::filesystem::path& journal, const std::string& prefix,
                         bool observers, int level) {
  Rig rig(connection, registry, journal, prefix, observers, opt.normal_sync,
          opt.persistent_commands);
  rig.driver.run(16, 1.0, 1.0);  // warm up connections, caches and the allocator
  const double c0 = bench::own_cpu_seconds();
  FreshCell cell;
  cell.workflows = rig.driver.run(level, 1.0, opt.seconds);
  cell.cpu_ms = 1000.0 * (bench::own_cpu_seconds() - c0);
  cell.command_p50_ms = rig.timed.p50_ms();
  cell.not_completed = rig.driver.not_completed();
  return cell;
}

/// `values` as `a, b, c` with `digits` decimals (`%` appended with `percent`).
std::string list_of(const std::vector<double>& values, int digits, bool percent = false) {
  std::string out;
  for (double v : values) {
    char cell[32];
    std::snprintf(cell, sizeof cell, "%s%.*f%s", out.empty() ? "" : ", ", digits, v,
                  percent ? "%" : "");
    out += cell;
  }
  return out;
}

/// --rounds R: the figures the targets are read from, each measured R times in turn with what it
/// is compared against, so that a host whose speed drifts during the run (a shared virtual one)
/// weighs on both alike. Per round: at one in flight (when 1 is among --inflight) workflows, then
/// the floor (serial_write_ahead); at the highest --inflight level the raw transient limit,
/// workflows, workflows with the mediator's observers. Returns the workflows not completed.
long run_rounds(const Options& opt, messaging::Connection& connection,
                const workflow::DefinitionRegistry& registry, const std::filesystem::path& dir,
                const std::string& prefix) {
  const int top = *std::max_element(opt.inflight.begin(), opt.inflight.end());
  const bool at_one = std::find(opt.inflight.begin(), opt.inflight.end(), 1) != opt.inflight.end();
  std::printf(
      "Interleaved: %d rounds, each in turn: %sat %d in flight the raw transient limit (%.0f s), "
      "workflows and workflows + observers (%.0f s each)\n\n",
      opt.rounds, at_one ? "at 1 in flight workflows, then the floor; " : "", top, opt.raw_seconds,
      opt.seconds);
  std::fflush(stdout);
  long not_completed = 0;
  std::vector<Figures> raw;
  std::vector<Figures> plain;
  std::vector<Figures> observed;
  std::vector<Figures> one;     // workflows at 1 in flight, per round
  std::vector<Figures> floors;  // the floor, per round
  // One cell, with this process's CPU per workflow.
  auto workflows = [&](int level, bool observers, const std::string& name) {
    const FreshCell cell =
        fresh_rig_cell(opt, connection, registry, dir / name, prefix, observers, level);
    Figures w = cell.workflows;
    if (w.samples > 0)
      w.cpu_us_per_op = 1000.0 * cell.cpu_ms / static_cast<double>(w.samples);
    not_completed += cell.not_completed;
    return w;
  };
  for (int r = 0; r < opt.rounds; ++r) {
    const std::string round = "round-" + std::to_string(r);
    if (at_one) {
      one.push_back(workflows(1, false, round + "-one.db"));
      floors.push_back(
          bench::serial_write_ahead(
              opt.url,
              {.seconds = opt.seconds, .body_bytes = 400, .queue_prefix = "bench.mediator.floor."},
              dir, 5)
              .workflows);
    }
    raw.push_back(bench::raw_rpc(opt.url, {.persistent = false,
                                           .in_flight = top,
                                           .seconds = opt.raw_seconds,
                                           .body_bytes = 400,
                                           .queue_prefix = "bench.mediator.raw."}));
    plain.push_back(workflows(top, false, round + ".db"));
    observed.push_back(workflows(top, true, round + "-observed.db"));
    std::printf("- round %d of %d done\n", r + 1, opt.rounds);
    std::fflush(stdout);
  }
  // wf/s x 5 against the raw limit: of all rounds together, and of each round.
  auto ratio = [](const Figures& w, const Figures& limit) {
    return limit.per_second > 0 ? 100.0 * w.per_second * 5 / limit.per_second : 0.0;
  };
  const Figures limit = bench::combine_rounds(raw);
  std::printf(
      "\n| at %-5d in flight | rt/s or wf/s | wf/s x 5 / transient limit | each round's ratio | "
      "p50 ms | CPU ms/wf |\n",
      top);
  std::printf(
      "|--------------------|--------------|----------------------------|--------------------|"
      "--------|-----------|\n");
  std::printf(
      "| raw transient      | %12.0f |                            |                    | "
      "%6.2f |           |\n",
      limit.per_second, limit.p50_ms);
  for (const auto& [label, cells] :
       {std::pair<const char*, const std::vector<Figures>*>{"workflows         ", &plain},
        {"+ observers       ", &observed}}) {
    std::vector<double> each;
    for (std::size_t r = 0; r < cells->size(); ++r)
      each.push_back(ratio((*cells)[r], raw[r]));
    const Figures all = bench::combine_rounds(*cells);
    std::printf("| %s | %12.0f | %25.0f%% | %-18s | %6.2f | %9.2f |\n", label, all.per_second,
                ratio(all, limit), list_of(each, 0, true).c_str(), all.p50_ms,
                all.cpu_us_per_op / 1000.0);
  }
  if (at_one) {
    std::vector<double> measured;
    std::vector<double> floor_p50s;
    std::vector<double> above;
    for (std::size_t r = 0; r < one.size(); ++r) {
      measured.push_back(one[r].p50_ms);
      floor_p50s.push_back(floors[r].p50_ms);
      above.push_back(one[r].p50_ms - floors[r].p50_ms);
    }
    std::printf(
        "\n| at 1 in flight, p50 ms | median | each round |\n"
        "|------------------------|--------|------------|\n");
    std::printf("| workflows              | %6.2f | %s |\n", bench::median(measured),
                list_of(measured, 2).c_str());
    std::printf("| floor                  | %6.2f | %s |\n", bench::median(floor_p50s),
                list_of(floor_p50s, 2).c_str());
    std::printf("| above the floor        | %6.2f | %s |\n", bench::median(above),
                list_of(above, 2).c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
  return not_completed;
}

int run(const Options& opt) {
  std::string tmpl =
      ((opt.dir.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(opt.dir)) /
       "wl-mediator-bench-XXXXXX")
          .string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  const std::filesystem::path dir = tmpl;
  const std::string prefix = "bench." + new_uuid().substr(0, 8) + ".";

  std::printf(
      "Five-step workflows orchestrated over %s: workflow engine + AmqpTransport + SQLite\n"
      "journal (synchronous=%s) in %s; %s task commands; %d echo worker process(es); %u CPU(s) "
      "shared with the broker.\n\n",
      opt.url.c_str(), opt.normal_sync ? "NORMAL" : "FULL", dir.c_str(),
      opt.persistent_commands ? "persistent" : "transient", opt.workers,
      std::thread::hardware_concurrency());
  std::fflush(stdout);

  // 1. The broker's raw limits, before anything else runs.
  std::vector<Figures> raw_transient;
  std::vector<Figures> raw_persistent;
  double transient_limit = 0;
  double persistent_limit = 0;
  std::printf("Raw rabbitmq-c echo round trips (%.0f s per cell)\n\n", opt.raw_seconds);
  std::printf(
      "| in flight | transient rt/s | p50 ms | p99 ms | persistent+confirms rt/s | p50 ms | p99 ms "
      "|\n");
  std::printf(
      "|-----------|----------------|--------|--------|--------------------------|--------|--------"
      "|\n");
  for (int n : opt.inflight) {
    // About the size of a workflow command envelope.
    bench::RawRpcOptions raw{.persistent = false,
                             .in_flight = n,
                             .seconds = opt.raw_seconds,
                             .body_bytes = 400,
                             .queue_prefix = "bench.mediator.raw."};
    raw_transient.push_back(bench::raw_rpc(opt.url, raw));
    raw.persistent = true;
    raw_persistent.push_back(bench::raw_rpc(opt.url, raw));
    const Figures& t = raw_transient.back();
    const Figures& p = raw_persistent.back();
    transient_limit = std::max(transient_limit, t.per_second);
    persistent_limit = std::max(persistent_limit, p.per_second);
    std::printf("| %9d | %14.0f | %6.3f | %6.3f | %24.0f | %6.3f | %6.3f |\n", n, t.per_second,
                t.p50_ms, t.p99_ms, p.per_second, p.p50_ms, p.p99_ms);
    std::fflush(stdout);
  }
  std::printf(
      "\nraw limit: %.0f round trips/s transient, %.0f persistent+confirms (= %.0f and %.0f "
      "five-step "
      "workflows/s)\n\n",
      transient_limit, persistent_limit, transient_limit / 5, persistent_limit / 5);

  // 2. The orchestration against echo workers in their own processes.
  std::vector<std::unique_ptr<bench::ChildProcess>> workers;
  for (int i = 0; i < opt.workers; ++i) {
    workers.push_back(std::make_unique<bench::ChildProcess>(
        opt.worker,
        std::map<std::string, std::string>{{"WONDERLAND_AMQP_URL", opt.url},
                                           {"WONDERLAND_QUEUE_PREFIX", prefix},
                                           {"WONDERLAND_WORKER_MODE", "echo"},
                                           {"WONDERLAND_WORKER_SERVICE", "echo"},
                                           {"WONDERLAND_WORKER_PREFETCH", "1024"},
                                           {"WONDERLAND_WORKER_DELETE_QUEUES", i == 0 ? "1" : "0"}},
        dir / ("worker-" + std::to_string(i) + ".log")));
    workers.back()->wait_for_log("worker ready", std::chrono::seconds(30));
  }
  auto co = messaging::ConnectionOptions::from_env("mediator");
  co.url = opt.url;
  messaging::Connection connection(co);
  const messaging::QueueName park_queue{prefix + "park.commands"};
  connection.declare(messaging::QueueSpec{park_queue});
  workflow::DefinitionRegistry registry;
  if (!registry.add(
          workflow::parse_definition(five_steps("five", "echo", 5000), "bench").value()) ||
      !registry.add(
          workflow::parse_definition(five_steps("parking", "park", 600000), "bench").value())) {
    throw std::runtime_error("definitions refused");
  }

  std::printf("Five-step workflows (%.0f s per cell, closed loop)\n\n", opt.seconds);
  std::printf(
      "| in flight             | wf/s  | wf/s x 5 / persistent limit | wf/s x 5 / transient limit "
      "| p50 ms | p99 ms | command p50 ms¹ | CPU ms/wf² |\n");
  std::printf(
      "|-----------------------|-------|-----------------------------|----------------------------|"
      "--------|--------|-----------------|------------|\n");
  std::fflush(stdout);
  auto print_row = [&](const std::string& label, const Figures& w, double command_p50,
                       double cpu_ms) {
    const double total = w.per_second * opt.seconds;
    // Padded by characters, not bytes (the footnote marks take two bytes).
    std::string cell = label;
    const auto chars = std::count_if(label.begin(), label.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    });
    if (chars < 21)
      cell.append(static_cast<std::size_t>(21 - chars), ' ');
    std::printf("| %s | %5.0f | %26.0f%% | %25.0f%% | %6.2f | %6.2f | %15.3f | %10.2f |\n",
                cell.c_str(), w.per_second,
                persistent_limit > 0 ? 100.0 * w.per_second * 5 / persistent_limit : 0.0,
                transient_limit > 0 ? 100.0 * w.per_second * 5 / transient_limit : 0.0, w.p50_ms,
                w.p99_ms, command_p50, total > 0 ? cpu_ms / total : 0.0);
    std::fflush(stdout);
  };
  long not_completed = 0;
  std::optional<FloorInputs> at_one;  // the floor's inputs, when 1 is among --inflight
  bool all_parked = false;
  long rss_before = 0;
  long rss_parked = 0;
  std::int64_t gauge = 0;
  if (!opt.history.empty()) {
    for (const char* suffix : {"", "-wal"}) {
      const std::filesystem::path from = opt.history + suffix;
      if (std::filesystem::exists(from))
        std::filesystem::copy_file(from, dir / (std::string("journal.db") + suffix));
    }
    std::printf("SQLite journal: a copy of %s (%.1f MiB)\n\n", opt.history.c_str(),
                static_cast<double>(std::filesystem::file_size(dir / "journal.db")) / 1048576.0);
  }
  {
    Rig rig(connection, registry, dir / "journal.db", prefix, false, opt.normal_sync,
            opt.persistent_commands);
    rig.driver.run(16, 1.0, 1.0);  // warm up connections, caches and the allocator
    for (std::size_t i = 0; i < opt.inflight.size(); ++i) {
      const int n = opt.inflight[i];
      const double c0 = bench::own_cpu_seconds();
      const workflow::JournalStats stats0 = rig.journal->stats();
      const long settled0 = rig.driver.settled();
      Figures w = rig.driver.run(n, 1.0, opt.seconds);
      print_row(std::to_string(n), w, rig.timed.p50_ms(), 1000.0 * (bench::own_cpu_seconds() - c0));
      const long settled = rig.driver.settled() - settled0;
      if (n == 1 && settled > 0) {
        const workflow::JournalStats stats = rig.journal->stats();
        at_one = FloorInputs{
            .commits_per_workflow =
                static_cast<double>(stats.commits - stats0.commits) / static_cast<double>(settled),
            .workflow_p50_ms = w.p50_ms,
            .raw_p50_ms = raw_transient[i].p50_ms,
            .command_p50_ms = rig.timed.p50_ms(),
            .commits = stats.commit_latency.since(stats0.commit_latency)};
      }
    }
    // 3a. Memory of the engine in this process: park workflows at their third step.
    bench::release_free_memory();
    rss_before = bench::rss_kib();
    for (int i = 0; i < opt.parked; ++i)
      rig.driver.issue("parking");
    all_parked = rig.driver.wait_parked(opt.parked, std::chrono::seconds(120));
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the commands reach the I/O thread
    bench::release_free_memory();
    rss_parked = bench::rss_kib();
    gauge = rig.engine->metrics().in_flight;
    not_completed += rig.driver.not_completed();
  }
  if (!opt.journal_url.empty())
    not_completed += run_postgres_rows(opt, connection, registry, prefix, print_row);
  if (opt.observers_row && !opt.inflight.empty()) {
    // The same at the highest level with what the mediator adds on the engine thread: step
    // histograms and the event feed (every journal record published, batched, to the broker).
    const int n = opt.inflight.back();
    const FreshCell cell =
        fresh_rig_cell(opt, connection, registry, dir / "journal-observed.db", prefix, true, n);
    print_row(std::to_string(n) + " + observers³", cell.workflows, cell.command_p50_ms,
              cell.cpu_ms);
    not_completed += cell.not_completed;
  }
  std::printf(
      "\n¹ one step's command: sent by the engine to its reply handed back (broker and worker).\n"
      "² CPU time of this process (engine, journal writer, AMQP I/O) per workflow.\n"
      "³ with the mediator's observers: step histograms and the workflow event feed.\n"
      "⁴ the PostgreSQL journal (--journal-url) instead of SQLite.\n\n");
  if (at_one && !opt.persistent_commands) {
    const Figures write = bench::durable_write(dir, 500);
    const bench::SerialWriteAhead serial = bench::serial_write_ahead(
        opt.url,
        {.seconds = opt.raw_seconds, .body_bytes = 400, .queue_prefix = "bench.mediator.floor."},
        dir, 5);
    print_floor(*at_one, write, serial, dir);
  }

  if (opt.rounds > 1 && !opt.inflight.empty())
    not_completed += run_rounds(opt, connection, registry, dir, prefix);

  // 2b. Several wonderland-mediator processes sharing one PostgreSQL journal.
  if (!opt.journal_url.empty() && !opt.mediators.empty() && !opt.mediator.empty()) {
    const int level = opt.inflight.back();
    std::printf(
        "wonderland-mediator processes sharing one PostgreSQL journal (%d in flight in all, "
        "started through POST /api/workflows round robin; %.0f s per row)\n\n",
        level, opt.seconds);
    std::printf(
        "| mediators | wf/s  | CPU ms/wf of each mediator      | CPU ms/wf, all mediators |\n");
    std::printf(
        "|-----------|-------|---------------------------------|--------------------------|\n");
    std::fflush(stdout);
    for (int n : opt.mediators) {
      SharedRow r = run_shared_journal(opt, dir, prefix, n, level);
      std::string each;
      double sum = 0;
      for (double c : r.cpu_ms_per_wf) {
        char cell[32];
        std::snprintf(cell, sizeof cell, "%s%.2f", each.empty() ? "" : " + ", c);
        each += cell;
        sum += c;
      }
      std::printf("| %9d | %5.0f | %-31s | %24.2f |\n", n, r.per_second, each.c_str(), sum);
      std::fflush(stdout);
      not_completed += r.not_completed;
    }
    std::printf("\n");
  }

  // 3b. Memory of a wonderland-mediator process.
  std::optional<MediatorMemory> mm;
  if (!opt.mediator.empty() && opt.parked > 0)
    mm = measure_mediator(opt, dir, prefix);

  std::printf("Memory per in-flight workflow (parked at their third step)\n\n");
  if (mm) {
    std::printf(
        "- wonderland-mediator process: %.2f KiB (VmRSS %.1f -> %.1f MiB with %d more workflows in "
        "flight%s; in-flight gauge %ld)\n",
        static_cast<double>(mm->after_kib - mm->before_kib) / opt.parked,
        static_cast<double>(mm->before_kib) / 1024.0, static_cast<double>(mm->after_kib) / 1024.0,
        opt.parked, mm->all_parked ? "" : ", NOT ALL PARKED", mm->in_flight);
  }
  std::printf(
      "- engine in this process: %.2f KiB (VmRSS %.1f -> %.1f MiB with %d parked%s; in-flight "
      "gauge %lld)\n",
      static_cast<double>(rss_parked - rss_before) / opt.parked,
      static_cast<double>(rss_before) / 1024.0, static_cast<double>(rss_parked) / 1024.0,
      opt.parked, all_parked ? "" : ", NOT ALL PARKED", static_cast<long long>(gauge));
  if (!opt.mediator.empty() && opt.signals > 0) {
    const SignalLatency sl = measure_signals(opt, dir, prefix, connection);
    std::printf(
        "\nSignal to next command through wonderland-mediator (%zu workflows parked on a signal "
        "step, each signalled by POST /api/workflows/{id}/signals/go after it waits)\n\n"
        "- p50 %.3f ms, p99 %.3f ms (request sent to the next step's command consumed)%s\n",
        sl.figures.samples, sl.figures.p50_ms, sl.figures.p99_ms,
        sl.not_parked > 0 ? ", SOME NOT SEEN WAITING" : "");
  }
  std::printf("\nworkflows not completed: %ld\n", not_completed);
  std::fflush(stdout);

  connection.delete_queue(park_queue);
  connection.delete_queue(messaging::dead_letter_queue_for(park_queue));
  workers.clear();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const bool memory_ok = all_parked && (!mm || mm->all_parked);
  return not_completed == 0 && memory_ok ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Workflow orchestration over RabbitMQ against the broker's raw RPC limit"};
  Options opt;
  const char* env_url = std::getenv("WONDERLAND_AMQP_URL");
  opt.url = env_url != nullptr ? env_url : "amqp://guest:guest@127.0.0.1:5672/";
  opt.worker = MEDIATOR_BENCH_WORKER;
  opt.mediator = MEDIATOR_BENCH_MEDIATOR;
  app.add_option("--url", opt.url, "broker URL (default: $WONDERLAND_AMQP_URL)");
  app.add_option("--inflight", opt.inflight, "workflows (and raw requests) in flight")
      ->expected(1, 16);
  app.add_option("--seconds", opt.seconds, "measured seconds per workflow cell")
      ->check(CLI::PositiveNumber);
  app.add_option("--raw-seconds", opt.raw_seconds, "measured seconds per raw RPC cell")
      ->check(CLI::PositiveNumber);
  app.add_option("--workers", opt.workers, "echo worker processes")->check(CLI::Range(1, 16));
  app.add_option("--parked", opt.parked, "workflows parked in flight for the memory figures")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--signals", opt.signals,
                 "workflows signalled one at a time for the signal latency (0: skip it)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--worker", opt.worker, "the worker binary (mediator_test_worker)");
  app.add_option("--mediator", opt.mediator,
                 "the wonderland-mediator binary for the memory figure (empty: skip it)");
  app.add_option("--dir", opt.dir, "where journals and logs go (default: the temporary folder)");
  app.add_option("--history", opt.history,
                 "start the SQLite journal from a copy of this one (for example one that "
                 "history_benchmark --running 0 --keep filled)")
      ->check(CLI::ExistingFile);
  app.add_flag("!--no-observers-row", opt.observers_row,
               "skip the extra row with the mediator's observers (step histograms, event feed)");
  app.add_option("--rounds", opt.rounds,
                 "with 2 or more: also measure the highest level's raw limit, workflows and "
                 "workflows + observers, and at 1 in flight the workflows and the floor, this "
                 "many times in turn, and print them combined and per round")
      ->check(CLI::Range(1, 100));
  app.add_flag("--normal-sync", opt.normal_sync, "journal with synchronous=NORMAL instead of FULL");
  app.add_flag(
      "--persistent-commands", opt.persistent_commands,
      "persistent task commands (WONDERLAND_COMMAND_DELIVERY=persistent) instead of transient");
  app.add_option("--journal-url", opt.journal_url,
                 "also measure with the PostgreSQL journal at this postgresql:// URL");
  app.add_option("--mediators", opt.mediators,
                 "with --journal-url: also run this many wonderland-mediator processes on one "
                 "journal (e.g. 1 2 3), at the highest --inflight level")
      ->expected(1, 8)
      ->check(CLI::Range(1, 8));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "benchmark failed: %s\n", e.what());
    return 1;
  }
}
