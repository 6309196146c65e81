// How fast the logging service absorbs log records: N records published to the logs exchange
// from K connections, timed until the service has written every one of them (a record counts
// only once it is on file, which is also when it is acknowledged). Two modes:
//   live     the service runs while the publishers publish: the rate is bounded by both sides
//   backlog  the records wait in the queue first, then the service starts: the rate is the
//            service's alone
//   baseline like backlog, but drained by a bare consumer of the messaging library whose
//            handler does nothing: the ceiling that broker and messaging layer allow here
// Each run uses exchanges, queues and a log directory of its own and removes them afterwards;
// with `--store DIR` the runs write into the existing log directory DIR instead (kept, and
// growing by each run's records; `--max-files` must retain its files), to compare a store that
// already holds millions of records with an empty one. In backlog mode the service's start-up,
// which opens the store, is part of the time.
//
//   build/bench/logging/log_ingest_benchmark --url amqp://guest:guest@127.0.0.1:5672/
//       --messages 50000 --connections 4 --concurrency 1,16,64,256   (one line)

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/log_service/protocol.hpp"
#include "wonderland/log_service/service.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/topology.hpp"

namespace {

using namespace wonderland;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

messaging::ConnectionOptions connection_options(const std::string& url,
                                                const std::string& service) {
  messaging::ConnectionOptions o;
  o.url = url;
  o.service = service;
  return o;
}

/// Publishes `count` records from one connection with a window of unconfirmed publishes.
void publish_records(const std::string& url, const messaging::ExchangeName& exchange, int first,
                     int count, std::size_t window, std::atomic<int>& failures) {
  messaging::Connection conn(connection_options(url, "bench-publisher"));
  std::mutex mu;
  std::condition_variable cv;
  std::size_t in_flight = 0;
  static constexpr std::array<const char*, 4> kSeverities = {"debug", "info", "warning", "error"};
  for (int i = 0; i < count; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    int n = first + i;
    const char* severity = kSeverities[static_cast<std::size_t>(n % 4)];
    nlohmann::json body = {{"timestamp", now_iso8601()},
                           {"service", "bench"},
                           {"severity", severity},
                           {"correlation_id", ""},
                           {"message", "benchmark record " + std::to_string(n) + ", with a comma"},
                           {"fields", {{"n", n}, {"sku", "978-3-16-148410-0"}}}};
    messaging::Outgoing out;
    out.exchange = exchange;
    out.routing_key = severity;
    out.envelope = messaging::Envelope::make(log_service::kRecordType, std::move(body), "bench");
    out.delivery = messaging::Delivery::kTransient;
    out.timeout = 120s;
    conn.publish(std::move(out), [&](const Status& s) {
      std::lock_guard lock(mu);
      --in_flight;
      if (!s.ok())
        ++failures;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
}

struct Row {
  std::string mode;
  unsigned concurrency = 0;
  unsigned prefetch = 0;
  int messages = 0;
  double publish_s = 0;
  double stored_s = 0;
  std::uint64_t stored = 0;
  std::uint64_t batches = 0;
  int failures = 0;
};

Row run(const std::string& url, const std::string& mode, int messages, int connections,
        unsigned concurrency, unsigned prefetch, bool fsync, std::size_t window, bool live_feed,
        const std::filesystem::path& parent, unsigned linger_us, const std::string& store_dir,
        unsigned max_files) {
  const std::string id = new_uuid();
  const auto dir =
      store_dir.empty() ? parent / ("wl-log-bench-" + id) : std::filesystem::path(store_dir);
  log_service::ServiceOptions o;
  o.store.writer.dir = dir;
  o.store.writer.max_files = max_files;
  o.store.writer.fsync = fsync;
  o.concurrency = concurrency;
  o.prefetch = static_cast<std::uint16_t>(prefetch);
  if (!live_feed)
    o.live_queue_capacity = 0;
  o.store.linger = std::chrono::microseconds(linger_us);
  o.topology.logs_exchange = messaging::ExchangeName{"bench.logs." + id};
  o.topology.workflow_exchange = messaging::ExchangeName{"bench.workflow." + id};
  o.topology.live_exchange = messaging::ExchangeName{"bench.logs.live." + id};
  o.topology.records_queue = messaging::QueueName{"bench.logging.records." + id};
  o.topology.workflow_queue = messaging::QueueName{"bench.logging.workflow." + id};
  o.topology.query_queue = messaging::QueueName{"bench.logging.query." + id};

  Row row;
  row.mode = mode;
  row.concurrency = concurrency;
  row.prefetch = prefetch;
  row.messages = messages;
  std::atomic<int> failures{0};
  auto publish_all = [&] {
    std::vector<std::thread> threads;
    int each = messages / connections;
    for (int c = 0; c < connections; ++c) {
      int count = c == connections - 1 ? messages - each * (connections - 1) : each;
      threads.emplace_back([&, c, count] {
        publish_records(url, o.topology.logs_exchange, c * each, count, window, failures);
      });
    }
    for (auto& t : threads)
      t.join();
  };

  auto service =
      std::make_unique<log_service::LoggingService>(connection_options(url, "logging"), o);
  Clock::time_point start;
  if (mode == "baseline") {
    service.reset();
    auto t = Clock::now();
    publish_all();
    row.publish_s = seconds_since(t);
    messaging::Connection conn(connection_options(url, "bench-baseline"));
    std::atomic<std::uint64_t> consumed{0};
    start = Clock::now();
    {
      messaging::ConsumerOptions co;
      co.queue = o.topology.records_queue;
      co.prefetch = static_cast<std::uint16_t>(prefetch);
      co.concurrency = 0;
      auto consumer = conn.consume(
          co, [&](const messaging::Envelope&, const messaging::DeliveryInfo&) { ++consumed; });
      auto until = Clock::now() + 600s;
      while (consumed.load() < static_cast<std::uint64_t>(messages) && Clock::now() < until) {
        std::this_thread::sleep_for(1ms);
      }
      row.stored_s = seconds_since(start);
    }
    row.stored = consumed.load();
    row.failures = failures.load();
  } else if (mode == "backlog") {
    service.reset();  // the queue and its bindings stay: the records wait there
    auto t = Clock::now();
    publish_all();
    row.publish_s = seconds_since(t);
    start = Clock::now();
    service = std::make_unique<log_service::LoggingService>(connection_options(url, "logging"), o);
  } else {
    start = Clock::now();
    publish_all();
    row.publish_s = seconds_since(start);
  }
  auto deadline = Clock::now() + 600s;
  while (service && service->stats().records < static_cast<std::uint64_t>(messages) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  if (service) {
    row.stored_s = seconds_since(start);
    auto stats = service->stats();
    row.stored = stats.records;
    row.batches = stats.store.batches;
    row.failures = failures.load();
    service.reset();
  }

  messaging::Connection admin(connection_options(url, "bench-admin"));
  for (const auto& q :
       {o.topology.records_queue, o.topology.workflow_queue, o.topology.query_queue}) {
    try {
      admin.delete_queue(q);
      admin.delete_queue(messaging::dead_letter_queue_for(q));
    } catch (const std::exception&) {
    }
  }
  for (const auto& x :
       {o.topology.logs_exchange, o.topology.workflow_exchange, o.topology.live_exchange}) {
    try {
      admin.delete_exchange(x);
    } catch (const std::exception&) {
    }
  }
  std::error_code ec;
  if (store_dir.empty())
    std::filesystem::remove_all(dir, ec);
  return row;
}

std::vector<unsigned> parse_list(const std::string& text) {
  std::vector<unsigned> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    out.push_back(static_cast<unsigned>(std::stoul(item)));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Log ingestion throughput of the logging service"};
  std::string url = "amqp://guest:guest@127.0.0.1:5672/";
  if (const char* env_url = std::getenv("WONDERLAND_AMQP_URL"))
    url = env_url;
  int messages = 50'000;
  int connections = 4;
  std::string concurrency_list = "16";
  unsigned prefetch = 1000;
  std::string modes = "live,backlog,baseline";
  bool fsync = false;
  bool no_live = false;
  unsigned linger_us = 1000;
  std::string parent = std::filesystem::temp_directory_path().string();
  std::size_t window = 1000;
  std::string store_dir;
  unsigned max_files = log_store::WriterOptions{}.max_files;
  app.add_option("--url", url, "broker URL (default: $WONDERLAND_AMQP_URL)");
  app.add_option("-n,--messages", messages, "records per run")->check(CLI::PositiveNumber);
  app.add_option("-k,--connections", connections, "publisher connections")
      ->check(CLI::PositiveNumber);
  app.add_option("--concurrency", concurrency_list,
                 "handler threads of the service, comma-separated");
  app.add_option("--prefetch", prefetch, "prefetch of the records consumer")
      ->check(CLI::Range(1, 65535));
  app.add_option("--modes", modes, "live, backlog, baseline (comma-separated)");
  app.add_option("--window", window, "unconfirmed publishes per publisher connection");
  app.add_flag("--fsync", fsync, "fdatasync every write");
  app.add_option("--dir", parent, "where the run's log directory is made (default: the temp dir)");
  app.add_option("--linger-us", linger_us, "store: how long a write waits for more records");
  app.add_option("--store", store_dir, "write into this existing log directory (kept)");
  app.add_option("--max-files", max_files, "store: files retained")->check(CLI::PositiveNumber);
  app.add_flag("--no-live", no_live, "do not publish the live feed (to see what it costs)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  std::printf(
      "log ingestion: %d records from %d connections, prefetch %u, linger %u us, fsync %s, "
      "live feed %s\n\n",
      messages, connections, prefetch, linger_us, fsync ? "on" : "off", no_live ? "off" : "on");
  std::printf("%-8s %11s %10s %10s %10s %12s %10s %9s\n", "mode", "concurrency", "published",
              "publish s", "stored s", "records/s", "batches", "avg batch");
  std::vector<std::string> mode_list;
  {
    std::stringstream ss(modes);
    std::string m;
    while (std::getline(ss, m, ','))
      mode_list.push_back(m);
  }
  for (unsigned c : parse_list(concurrency_list)) {
    for (const auto& mode : mode_list) {
      Row r = run(url, mode, messages, connections, c, prefetch, fsync, window, !no_live, parent,
                  linger_us, store_dir, max_files);
      double rate = r.stored_s > 0 ? static_cast<double>(r.stored) / r.stored_s : 0;
      std::printf(
          "%-8s %11u %10d %10.2f %10.2f %12.0f %10llu %9.1f%s\n", r.mode.c_str(), r.concurrency,
          r.messages, r.publish_s, r.stored_s, rate, static_cast<unsigned long long>(r.batches),
          r.batches ? static_cast<double>(r.stored) / static_cast<double>(r.batches) : 0.0,
          r.stored < static_cast<std::uint64_t>(r.messages) || r.failures > 0 ? "  INCOMPLETE"
                                                                              : "");
      std::fflush(stdout);
    }
  }
  return 0;
}
