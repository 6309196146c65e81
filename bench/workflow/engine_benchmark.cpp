// Workflow engine benchmark: the engine alone, with a SQLite journal in a temporary directory
// and in-process services that answer at once.
//
//   workflow_engine_benchmark [--workflows N] [--window W] [--parked P] [--signalled S]
//                             [--signal-latency L] [--normal-sync]
//
// 1. Throughput: N five-step workflows (five tasks, each with a compensation, inputs rendered
//    from earlier outputs), at most W in flight; reports completed workflows per second, CPU
//    time and journal group-commit figures.
// 2. Memory: P workflows parked in flight (their third step's command is never answered);
//    reports the resident memory they add, per workflow. The figure includes the parked
//    command and reply callback the in-process transport keeps, and the step's timeout timer.
// 3. Signals: S workflows parked on a signal step (task, signal with a 10-minute timeout,
//    task); reports the resident memory each parked workflow holds, then signals them all at
//    once and reports signals delivered per second (signal call to the next step's command).
//    Then L workflows are signalled one at a time: p50 and p99 of the time from the signal
//    call to the next step's command reaching the transport (the signal is made durable first).
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "wonderland/bench/heap.hpp"
#include "wonderland/bench/stats.hpp"
#include "wonderland/workflow/engine.hpp"
#include "wonderland/workflow/sqlite_journal.hpp"

namespace {

using namespace wonderland;            // NOLINT
using namespace wonderland::workflow;  // NOLINT
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  int workflows = 20000;
  int window = 2000;
  int parked = 20000;
  int signalled = 10000;
  int signal_latency = 1000;
  bool full_sync = true;
};

json five_steps(const std::string& name, int parked_step_timeout_ms) {
  json steps = json::array();
  const char* ids[] = {"a", "b", "c", "d", "e"};
  for (int i = 0; i < 5; ++i) {
    std::string id = ids[i];
    json input = {{"order_id", "${workflow.id}"}, {"customer_id", "${input.customer_id}"}};
    if (i > 0)
      input["previous"] = std::string("${steps.") + ids[i - 1] + ".output.ref}";
    json step = {{"id", id},
                 {"kind", "task"},
                 {"service", "svc" + id},
                 {"action", "svc" + id + ".do"},
                 {"input", input},
                 {"compensation",
                  {{"action", "svc" + id + ".undo"},
                   {"input", {{"ref", "${steps." + id + ".output.ref}"}}}}}};
    if (i == 2)
      step["timeout_ms"] = parked_step_timeout_ms;
    steps.push_back(step);
  }
  return json{{"name", name}, {"version", 1}, {"steps", steps}};
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

/// Counts settled workflows; lets the driver wait for a number of them.
class Settled {
 public:
  Observer observer() {
    return [this](const WorkflowEvent& e) {
      if (!e.record.status || !is_settled(*e.record.status))
        return;
      std::lock_guard lock(mutex_);
      ++count_;
      if (e.record.type != events::kCompleted)
        ++not_completed_;
      cv_.notify_all();
    };
  }
  void wait_until(long n) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return count_ >= n; });
  }
  long count() {
    std::lock_guard lock(mutex_);
    return count_;
  }
  long not_completed() {
    std::lock_guard lock(mutex_);
    return not_completed_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  long count_ = 0;
  long not_completed_ = 0;
};

/// Counts the workflows that reached their signal step, and records when each one's next
/// command (the step after the signal) reached the transport.
class SignalProgress {
 public:
  Observer observer() {
    return [this](const WorkflowEvent& e) {
      if (e.record.type != events::kStepStarted || e.record.step != "s")
        return;
      std::lock_guard lock(mutex_);
      ++parked_;
      cv_.notify_all();
    };
  }
  void command_arrived(const std::string& workflow_id) {
    auto now = Clock::now();
    std::lock_guard lock(mutex_);
    arrived_[workflow_id] = now;
    cv_.notify_all();
  }
  void wait_parked(long n) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return parked_ >= n; });
  }
  void wait_arrived(std::size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return arrived_.size() >= n; });
  }
  Clock::time_point wait_arrival_of(const std::string& workflow_id) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return arrived_.count(workflow_id) > 0; });
    return arrived_[workflow_id];
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  long parked_ = 0;
  std::unordered_map<std::string, Clock::time_point> arrived_;
};

json signalled_definition() {
  auto task = [](const char* id, const char* svc) {
    return json{{"id", id},
                {"kind", "task"},
                {"service", svc},
                {"action", std::string(svc) + ".do"},
                {"input", {{"order_id", "${workflow.id}"}}}};
  };
  json signal = {{"id", "s"}, {"kind", "signal"}, {"signal", "go"}, {"timeout_ms", 600000}};
  return json{{"name", "signalled"},
              {"version", 1},
              {"steps", json::array({task("a", "svca"), signal, task("b", "svcb")})}};
}

void signal_async(Engine& engine, const std::string& id) {
  engine.signal(SignalRequest{.workflow_id = id, .name = "go"}, [](Status s) {
    if (!s) {
      std::fprintf(stderr, "signal failed: %s\n", s.error().message.c_str());
      std::exit(1);
    }
  });
}

void start_async(Engine& engine, const std::string& definition, int i) {
  engine.start(StartRequest{.definition = definition,
                            .input = json{{"customer_id", "customer-" + std::to_string(i % 997)}}},
               [](Result<std::string> r) {
                 if (!r) {
                   std::fprintf(stderr, "start failed: %s\n", r.error().message.c_str());
                   std::exit(1);
                 }
               });
}

void row(const char* what, const std::string& value) {
  std::printf("| %-44s | %18s |\n", what, value.c_str());
}

std::string fmt(double v, const char* unit, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f %s", decimals, v, unit);
  return buf;
}

int run(const Options& opt) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "wf-bench-XXXXXX").string();
  if (!::mkdtemp(tmpl.data()))
    return 1;
  const std::filesystem::path dir = tmpl;

  DefinitionRegistry registry;
  if (!registry.add(parse_definition(five_steps("five", 5000), "bench").value()) ||
      !registry.add(parse_definition(five_steps("parking", 600000), "bench").value()) ||
      !registry.add(parse_definition(signalled_definition(), "bench").value())) {
    return 1;
  }
  InProcessTransport transport;
  for (const char* s : {"a", "b", "c", "d", "e"}) {
    std::string svc = std::string("svc") + s;
    transport.on(svc + ".do", [](const Command& c) -> Result<json> {
      return json{{"ref", c.idempotency_key}};
    });
    transport.on(svc + ".undo", [](const Command&) -> Result<json> { return json::object(); });
  }
  SignalProgress signals;
  transport.on("svcb.do", [&](const Command& c) -> Result<json> {
    if (c.workflow_id.rfind("sig-", 0) == 0)
      signals.command_arrived(c.workflow_id);
    return json{{"ref", c.idempotency_key}};
  });
  std::mutex parked_mutex;
  std::condition_variable parked_cv;
  std::vector<ReplyCallback> parked;

  SystemClock clock;
  auto journal =
      open_sqlite_journal({.path = dir / "journal.db", .full_sync = opt.full_sync}).value();
  Settled settled;
  EngineOptions eo;
  eo.observers.push_back(settled.observer());
  eo.observers.push_back(signals.observer());
  auto engine = Engine::create(eo, registry, *journal, transport, clock).value();

  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  sched_getaffinity(0, sizeof cpus, &cpus);
  std::printf(
      "Workflow engine benchmark: SQLite journal (WAL, synchronous=%s) in %s,\n"
      "in-process services, %d CPU(s) available to this process, %s.\n\n",
      opt.full_sync ? "FULL" : "NORMAL", dir.c_str(), CPU_COUNT(&cpus), bench::allocator_name());

  // ---- memory per in-flight workflow ---------------------------------------------------------
  // Warm up (allocator, SQLite page cache), then park workflows at their third step.
  transport.on_async("svcc.do", [&](const Command& c, ReplyCallback done) {
    done(json{{"ref", c.idempotency_key}});
  });
  long expected = 0;
  for (int i = 0; i < 2000; ++i)
    start_async(*engine, "five", i);
  expected += 2000;
  settled.wait_until(expected);
  transport.on_async("svcc.do", [&](const Command&, ReplyCallback done) {
    std::lock_guard lock(parked_mutex);
    parked.push_back(std::move(done));
    parked_cv.notify_all();
  });
  parked.reserve(static_cast<std::size_t>(opt.parked));
  bench::release_free_memory();
  const long rss_before = bench::rss_kib();
  const std::size_t heap_before = bench::heap_in_use();
  for (int i = 0; i < opt.parked; ++i)
    start_async(*engine, "parking", i);
  {
    std::unique_lock lock(parked_mutex);
    parked_cv.wait(lock, [&] { return parked.size() >= static_cast<std::size_t>(opt.parked); });
  }
  bench::release_free_memory();  // count what is held, not what the allocator keeps for reuse
  const long rss_parked = bench::rss_kib();
  const std::size_t heap_parked = bench::heap_in_use();
  EngineMetrics parked_metrics = engine->metrics();
  {
    std::vector<ReplyCallback> release;
    {
      std::lock_guard lock(parked_mutex);
      release.swap(parked);
    }
    int n = 0;
    for (auto& done : release)
      done(json{{"ref", "released-" + std::to_string(n++)}});
  }
  expected += opt.parked;
  settled.wait_until(expected);
  transport.on_async("svcc.do", [&](const Command& c, ReplyCallback done) {
    done(json{{"ref", c.idempotency_key}});
  });

  // ---- throughput ----------------------------------------------------------------------------
  const JournalStats j0 = journal->stats();
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  const long base = expected;
  for (int i = 0; i < opt.workflows; ++i) {
    while (i - (settled.count() - base) >= opt.window)
      settled.wait_until(settled.count() + 1);
    start_async(*engine, "five", i);
  }
  expected += opt.workflows;
  settled.wait_until(expected);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  const JournalStats j1 = journal->stats();
  const EngineMetrics m = engine->metrics();

  const double records = static_cast<double>(j1.records - j0.records);
  const double commits = static_cast<double>(j1.commits - j0.commits);
  std::printf("| %-44s | %18s |\n", "measure", "value");
  std::printf("|%s|%s|\n", std::string(46, '-').c_str(), std::string(20, '-').c_str());
  row("five-step workflows completed", std::to_string(opt.workflows));
  row("in flight at most (window)", std::to_string(opt.window));
  row("wall time", fmt(wall, "s", 2));
  row("throughput", fmt(opt.workflows / wall, "workflows/s"));
  row("process CPU time (all threads)", fmt(cpu, "s", 2));
  row("CPU cores busy on average", fmt(cpu / wall, "", 2));
  row("workflows per CPU-second", fmt(opt.workflows / cpu, "/s"));
  row("mean workflow latency (window/throughput)",
      fmt(1000.0 * opt.window * wall / opt.workflows, "ms", 1));
  row("journal records per workflow", fmt(records / opt.workflows, "", 1));
  row("journal commits (group commit)", fmt(commits, ""));
  row("journal records per commit", fmt(commits > 0 ? records / commits : 0, "", 1));
  row("workflows not completed", std::to_string(settled.not_completed()));
  row("workflows parked in flight", std::to_string(opt.parked));
  row("  engine in-flight gauge while parked", std::to_string(parked_metrics.in_flight));
  row("  RSS before parking (free memory released)",
      fmt(static_cast<double>(rss_before) / 1024.0, "MiB", 1));
  row("  RSS with all parked (free memory released)",
      fmt(static_cast<double>(rss_parked) / 1024.0, "MiB", 1));
  row("memory per in-flight workflow (RSS delta)",
      fmt(static_cast<double>(rss_parked - rss_before) / opt.parked, "KiB", 2));
  row("  of which allocated on the heap",
      fmt((static_cast<double>(heap_parked) - static_cast<double>(heap_before)) / 1024.0 /
              opt.parked,
          "KiB", 2));
  std::printf("\nEngine counters: started %llu, completed %llu, failed %llu, in flight %lld.\n",
              static_cast<unsigned long long>(m.started),
              static_cast<unsigned long long>(m.completed),
              static_cast<unsigned long long>(m.failed), static_cast<long long>(m.in_flight));

  // ---- workflows parked on a signal ----------------------------------------------------------
  auto start_signalled = [&](int from, int count) {
    for (int i = from; i < from + count; ++i) {
      engine->start(StartRequest{.definition = "signalled", .id = "sig-" + std::to_string(i)},
                    [](Result<std::string> r) {
                      if (!r) {
                        std::fprintf(stderr, "start failed: %s\n", r.error().message.c_str());
                        std::exit(1);
                      }
                    });
    }
  };
  bench::release_free_memory();
  const long rss_before_signal = bench::rss_kib();
  const std::size_t heap_before_signal = bench::heap_in_use();
  start_signalled(0, opt.signalled);
  signals.wait_parked(opt.signalled);
  bench::release_free_memory();
  const long rss_signal = bench::rss_kib();
  const std::size_t heap_signal = bench::heap_in_use();
  const double sig_cpu0 = cpu_seconds();
  const auto sig_t0 = Clock::now();
  for (int i = 0; i < opt.signalled; ++i)
    signal_async(*engine, "sig-" + std::to_string(i));
  signals.wait_arrived(static_cast<std::size_t>(opt.signalled));
  const double sig_wall = std::chrono::duration<double>(Clock::now() - sig_t0).count();
  const double sig_cpu = cpu_seconds() - sig_cpu0;
  expected += opt.signalled;
  settled.wait_until(expected);

  start_signalled(opt.signalled, opt.signal_latency);
  signals.wait_parked(opt.signalled + opt.signal_latency);
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(opt.signal_latency));
  const auto lat_t0 = Clock::now();
  for (int i = opt.signalled; i < opt.signalled + opt.signal_latency; ++i) {
    const std::string id = "sig-" + std::to_string(i);
    const auto sent = Clock::now();
    signal_async(*engine, id);
    latencies.push_back(bench::ms_between(sent, signals.wait_arrival_of(id)));
  }
  const bench::Figures lat =
      bench::summarize(latencies, std::chrono::duration<double>(Clock::now() - lat_t0).count());
  expected += opt.signal_latency;
  settled.wait_until(expected);

  std::printf("\n| %-44s | %18s |\n", "signals", "value");
  std::printf("|%s|%s|\n", std::string(46, '-').c_str(), std::string(20, '-').c_str());
  row("workflows parked on a signal step", std::to_string(opt.signalled));
  row("memory per parked workflow (RSS delta)",
      fmt(static_cast<double>(rss_signal - rss_before_signal) / opt.signalled, "KiB", 2));
  row("  of which allocated on the heap",
      fmt((static_cast<double>(heap_signal) - static_cast<double>(heap_before_signal)) / 1024.0 /
              opt.signalled,
          "KiB", 2));
  row("all signalled at once: signals per second", fmt(opt.signalled / sig_wall, "/s"));
  row("  CPU per signal (to the next command)", fmt(1e6 * sig_cpu / opt.signalled, "us", 0));
  row("one at a time: signals", std::to_string(lat.samples));
  row("  signal to next command, p50", fmt(lat.p50_ms, "ms", 3));
  row("  signal to next command, p99", fmt(lat.p99_ms, "ms", 3));
  row("workflows not completed", std::to_string(settled.not_completed()));

  engine.reset();
  journal.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return settled.not_completed() == 0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> int {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(64);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--workflows") {
      opt.workflows = next();
    } else if (a == "--window") {
      opt.window = next();
    } else if (a == "--parked") {
      opt.parked = next();
    } else if (a == "--signalled") {
      opt.signalled = next();
    } else if (a == "--signal-latency") {
      opt.signal_latency = next();
    } else if (a == "--normal-sync") {
      opt.full_sync = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--workflows N] [--window W] [--parked P] [--signalled S]\n"
                   "          [--signal-latency L] [--normal-sync]\n",
                   argv[0]);
      return a == "--help" ? 0 : 64;
    }
  }
  if (opt.workflows < 1 || opt.window < 1 || opt.parked < 1 || opt.signalled < 1 ||
      opt.signal_latency < 1) {
    std::fprintf(stderr, "counts must be >= 1\n");
    return 64;
  }
  return run(opt);
}
