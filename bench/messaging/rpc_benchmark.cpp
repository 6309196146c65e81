// RPC round trips per second and latency, for the messaging library and for a minimal
// rabbitmq-c echo client/server measured in the same run, at several numbers of requests in
// flight. The broker is the bottleneck on a small machine, so the raw figure is the ceiling and
// the ratio is what the library costs. Both ends run in this process, so its CPU time per round
// trip is what the client and the server cost together, apart from the broker. With --tls-url
// the library is measured over TLS too (the same broker's amqps:// listener; certificate
// settings from WONDERLAND_AMQP_CACERT and its siblings), beside its plain figures of the run.
//
// With --rounds R each cell is measured R times, raw and library in turn (raw, library, raw,
// library...), --seconds each, so that a machine whose speed drifts over the minutes (a shared or
// virtual one) weighs on both sides alike. The rates are then the round trips of all rounds over
// their time, the CPU per round trip likewise, p50 and p99 the median of the rounds' values, and
// a last column gives the lowest and highest ratio of a single round.
//
//   build/bench/messaging/rpc_benchmark --url amqp://guest:guest@127.0.0.1:5672/ [--rounds 3]

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/bench/process.hpp"
#include "wonderland/bench/raw_rpc.hpp"
#include "wonderland/bench/stats.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/rpc.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace wonderland;
using namespace wonderland::messaging;

using bench::Figures;
using bench::summarize;

double ms_since(Clock::time_point t) {
  return bench::ms_between(t, Clock::now());
}

// ---------------------------------------------------------------------------------------------
// The library: RpcServer (handler on the I/O thread) and an asynchronous RpcClient.

Figures run_library(const std::string& url, bool persistent, int inflight, double seconds) {
  ConnectionOptions o;
  o.url = url;
  o.tls = ConnectionOptions::from_env("bench").tls;  // for an amqps:// URL
  o.publisher_confirms = persistent;  // transient RPC: the reply is the acknowledgement
  o.service = "bench-server";
  Connection server_conn(o);
  o.service = "bench-client";
  Connection client_conn(o);
  QueueName queue{"bench.lib." + new_uuid()};
  RpcServer server(server_conn, RpcServerOptions{queue, 512, 0},
                   [](const Envelope& req) -> Result<nlohmann::json> { return req.body; });
  RpcClient client(client_conn);
  std::string pad(256, 'x');
  std::mutex mu;
  std::vector<double> latencies;
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::atomic<int> outstanding{0};
  std::atomic<long> failures{0};
  std::function<void()> issue = [&] {
    auto sent = Clock::now();
    ++outstanding;
    RpcRequest req{queue, Envelope::make("bench.echo", {{"pad", pad}}), std::chrono::seconds(10),
                   persistent ? Delivery::kPersistent : Delivery::kTransient};
    client.call(std::move(req), [&, sent](Result<Envelope> r) {
      --outstanding;
      if (!r.ok())
        ++failures;
      if (measuring) {
        std::lock_guard lock(mu);
        latencies.push_back(ms_since(sent));
      }
      if (!stop)
        issue();
    });
  };
  for (int i = 0; i < inflight; ++i)
    issue();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto start = Clock::now();
  const double cpu_at_start = bench::own_cpu_seconds();
  measuring = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  measuring = false;
  const double cpu = bench::own_cpu_seconds() - cpu_at_start;
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  auto drain_deadline = Clock::now() + std::chrono::seconds(10);
  while (outstanding > 0 && Clock::now() < drain_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (failures > 0)
    std::fprintf(stderr, "warning: %ld failed calls\n", failures.load());
  server_conn.delete_queue(queue);
  std::lock_guard lock(mu);
  return summarize(latencies, elapsed, cpu);
}

/// Calls `cell(mode, persistent, in_flight)` for every mode and in-flight level, in table order.
template <typename Cell>
void for_each_cell(const std::vector<std::string>& modes, const std::vector<int>& inflight,
                   Cell cell) {
  for (const auto& mode : modes) {
    for (int n : inflight) {
      cell(mode, mode == "persistent", n);
      std::fflush(stdout);
    }
  }
}

/// The library over plain TCP and over TLS, cell after cell, in the same conditions.
void print_tls_table(const std::string& url, const std::string& tls_url, double seconds,
                     const std::vector<int>& inflight, const std::vector<std::string>& modes) {
  std::printf("\nThe library over TLS (%s) beside plain TCP, %.1f s per cell\n\n", tls_url.c_str(),
              seconds);
  std::printf(
      "| mode       | in flight | plain rt/s | TLS rt/s | TLS / plain | plain p50 ms | TLS p50 ms "
      "| plain CPU µs/rt | TLS CPU µs/rt |\n");
  std::printf(
      "|------------|-----------|------------|----------|-------------|--------------|---------"
      "---|-----------------|---------------|\n");
  for_each_cell(modes, inflight, [&](const std::string& mode, bool persistent, int n) {
    Figures plain = run_library(url, persistent, n, seconds);
    Figures tls = run_library(tls_url, persistent, n, seconds);
    std::printf("| %-10s | %9d | %10.0f | %8.0f | %10.0f%% | %12.3f | %10.3f | %15.1f | %13.1f |\n",
                mode.c_str(), n, plain.per_second, tls.per_second,
                plain.per_second > 0 ? 100.0 * tls.per_second / plain.per_second : 0.0,
                plain.p50_ms, tls.p50_ms, plain.cpu_us_per_op, tls.cpu_us_per_op);
  });
}

double ratio_percent(const Figures& lib, const Figures& raw) {
  return raw.per_second > 0 ? 100.0 * lib.per_second / raw.per_second : 0.0;
}

void print_table(const std::string& url, double seconds, int rounds,
                 const std::vector<int>& inflight, const std::vector<std::string>& modes) {
  std::printf("RPC round trips over %s, 256-byte payload, %.1f s per cell", url.c_str(), seconds);
  if (rounds > 1)
    std::printf(" and side, %d rounds of raw then library", rounds);
  std::printf("\n\n");
  std::printf(
      "| mode       | in flight | raw rt/s | lib rt/s | ratio | raw p50 ms | lib p50 ms | raw p99 "
      "ms | lib p99 ms | raw CPU µs/rt | lib CPU µs/rt |%s\n",
      rounds > 1 ? " rounds' ratios |" : "");
  std::printf(
      "|------------|-----------|----------|----------|-------|------------|------------|----------"
      "--|------------|---------------|---------------|%s\n",
      rounds > 1 ? "----------------|" : "");
  for_each_cell(modes, inflight, [&](const std::string& mode, bool persistent, int n) {
    std::vector<Figures> raws;
    std::vector<Figures> libs;
    double lowest = 0;
    double highest = 0;
    for (int r = 0; r < rounds; ++r) {
      raws.push_back(
          bench::raw_rpc(url, {.persistent = persistent, .in_flight = n, .seconds = seconds}));
      libs.push_back(run_library(url, persistent, n, seconds));
      const double ratio = ratio_percent(libs.back(), raws.back());
      lowest = r == 0 ? ratio : std::min(lowest, ratio);
      highest = r == 0 ? ratio : std::max(highest, ratio);
    }
    const Figures raw = bench::combine_rounds(raws);
    const Figures lib = bench::combine_rounds(libs);
    std::printf(
        "| %-10s | %9d | %8.0f | %8.0f | %4.0f%% | %10.3f | %10.3f | %10.3f | %10.3f | %13.1f | "
        "%13.1f |",
        mode.c_str(), n, raw.per_second, lib.per_second, ratio_percent(lib, raw), raw.p50_ms,
        lib.p50_ms, raw.p99_ms, lib.p99_ms, raw.cpu_us_per_op, lib.cpu_us_per_op);
    if (rounds > 1)
      std::printf(" %5.0f%% - %4.0f%% |", lowest, highest);
    std::printf("\n");
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RPC round-trip benchmark: the messaging library against raw rabbitmq-c"};
  std::string url = std::getenv("WONDERLAND_AMQP_URL") ? std::getenv("WONDERLAND_AMQP_URL")
                                                       : "amqp://guest:guest@127.0.0.1:5672/";
  double seconds = 3.0;
  std::vector<int> inflight{1, 16, 128};
  std::vector<std::string> modes{"transient", "persistent"};
  app.add_option("--url", url, "broker URL (default: $WONDERLAND_AMQP_URL)");
  app.add_option("--seconds", seconds, "measured seconds per cell (and round)")
      ->check(CLI::PositiveNumber);
  int rounds = 1;
  app.add_option("--rounds", rounds,
                 "measure each cell this many times, raw and library in turn, and combine them")
      ->check(CLI::Range(1, 100));
  app.add_option("--inflight", inflight, "requests in flight");
  app.add_option("--modes", modes, "transient and/or persistent")
      ->check(CLI::IsMember({"transient", "persistent"}));
  std::string tls_url;
  bool tls_only = false;
  app.add_option("--tls-url", tls_url,
                 "also the library over TLS at this amqps:// URL (the same broker's TLS listener)");
  app.add_flag("--tls-only", tls_only, "with --tls-url: only the TLS table");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  try {
    if (!tls_only)
      print_table(url, seconds, rounds, inflight, modes);
    if (!tls_url.empty())
      print_tls_table(url, tls_url, seconds, inflight, modes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rpc_benchmark: %s\n", e.what());
    return 1;
  }
  return 0;
}
