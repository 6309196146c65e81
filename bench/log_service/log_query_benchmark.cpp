// The log store as it grows: one directory is filled through the store's own write path up to
// each size of a list (0 = the empty store), and at each size a store is opened on it (its
// start-up time is shown) and typical queries of the log viewer are timed: p50 and p99 over
// `--runs` runs each (fewer for a query that exceeds the time budget; the count is shown). Then
// the next `--window` records are appended, timed (the ingest rate at that size), and the fill
// goes on. Also shown: the files' size on disk, the process's RSS (and its peak) and how many
// files the queries read.
//
//   build/bench/log_service/log_query_benchmark --records 0,1000000,10000000
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/log_store/store.hpp"

namespace {

using namespace wonderland;
using namespace wonderland::log_store;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// Record `i`: five services, one in ten an error, flows of 20 records (`corr-<i/20>`), and a
/// rare needle once in a million records (the first at i = 7, in the oldest file).
Record make(std::uint64_t i) {
  static const char* kServices[] = {"orders", "inventory", "payments", "mediator", "gateway"};
  Record r;
  r.time = SystemTime(std::chrono::milliseconds(1'764'000'000'000LL + static_cast<long long>(i)));
  r.service = kServices[i % 5];
  r.severity = static_cast<Severity>(i % 10 == 0 ? 3 : (i % 4 == 0 ? 2 : 1));
  r.correlation_id = "corr-" + std::to_string(i / 20);
  r.message = "request " + std::to_string(i) + " handled, status=ok, path=\"/api/books\"";
  if (i % 1'000'000 == 7)
    r.message = "rare needle " + std::to_string(i);
  r.fields = {{"i", i}, {"duration_ms", i % 97}, {"user", "Müller"}};
  return r;
}

struct Settings {
  std::vector<std::uint64_t> sizes{0, 1'000'000};
  int runs = 50;
  double budget_s = 10;
  std::uint64_t window = 100'000;
  std::size_t batch = 1000;
  unsigned max_files = 200;
  std::string parent = std::filesystem::temp_directory_path().string();
  bool keep = false;
};

/// Appends records `from`..`to` (exclusive) in batches; returns the records per second.
double fill(LogStore& store, std::uint64_t from, std::uint64_t to, std::size_t batch_size) {
  auto start = Clock::now();
  std::vector<Record> batch;
  for (std::uint64_t i = from; i < to; ++i) {
    batch.push_back(make(i));
    if (batch.size() == batch_size) {
      store.append(std::move(batch));
      batch.clear();
    }
  }
  if (!batch.empty())
    store.append(std::move(batch));
  return static_cast<double>(to - from) / seconds_since(start);
}

struct Case {
  std::string name;
  Query query;
};

std::vector<Case> cases_for(std::uint64_t size) {
  auto with = [](std::map<std::string, std::string> params) {
    Query q;
    q.filter = Filter::from_params(params).value();
    return q;
  };
  const std::uint64_t flows = std::max<std::uint64_t>(size / 20, 4);
  return {
      {"newest page", Query{}},
      {"correlation, recent", with({{"correlation_id", "corr-" + std::to_string(flows - 3)}})},
      {"correlation, oldest", with({{"correlation_id", "corr-5"}})},
      {"correlation, absent", with({{"correlation_id", "no-such-flow"}})},
      {"text, rare needle", with({{"text", "RARE NEEDLE"}})},
      {"text, common word", with({{"text", "Handled"}})},
      {"service+severity", with({{"service", "payments"}, {"severity", "warning"}})},
  };
}

struct Timing {
  double p50 = 0;
  double p99 = 0;
  int runs = 0;
  std::size_t records = 0;
  double files_per_query = 0;
};

/// Nearest-rank percentile of sorted `times`.
double percentile(const std::vector<double>& times, double p) {
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(times.size())));
  return times[std::clamp<std::size_t>(rank, 1, times.size()) - 1];
}

Timing time_case(LogStore& store, const Case& c, const Settings& s) {
  std::vector<double> times;
  Timing t;
  const std::uint64_t scans_before = store.stats().file_scans;
  auto start = Clock::now();
  while (static_cast<int>(times.size()) < s.runs &&
         (times.size() < 3 || seconds_since(start) < s.budget_s)) {
    auto begin = Clock::now();
    QueryPage page = store.query(c.query);
    times.push_back(seconds_since(begin) * 1000);
    t.records = page.records.size();
  }
  std::sort(times.begin(), times.end());
  t.p50 = percentile(times, 0.5);
  t.p99 = percentile(times, 0.99);
  t.runs = static_cast<int>(times.size());
  t.files_per_query = static_cast<double>(store.stats().file_scans - scans_before) / t.runs;
  return t;
}

struct Footprint {
  double disk_mib = 0;
  int files = 0;
  double rss_mib = 0;
  double peak_rss_mib = 0;
};

double status_mib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0)
      return std::stod(line.substr(key.size() + 1)) / 1024;  // kB
  }
  return 0;
}

Footprint footprint(const std::filesystem::path& dir) {
  Footprint f;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file())
      continue;
    f.disk_mib += static_cast<double>(e.file_size()) / (1 << 20);
    f.files += e.path().extension() == ".csv" ? 1 : 0;
  }
  f.rss_mib = status_mib("VmRSS");
  f.peak_rss_mib = status_mib("VmHWM");
  return f;
}

/// Opens the store on `dir` holding `size` records, times the queries, then appends the next
/// window (timed). Returns the ingest rate at this size.
double measure_size(const StoreOptions& o, std::uint64_t size, const Settings& s) {
  auto start = Clock::now();
  LogStore store(o);
  const double open_s = seconds_since(start);
  const Footprint f = footprint(o.writer.dir);
  std::printf("\n== %llu records: %d CSV files, %.1f MiB on disk; store opened in %.2f s\n",
              static_cast<unsigned long long>(size), f.files, f.disk_mib, open_s);
  std::printf("%-22s %8s %10s %10s %6s %8s\n", "query", "records", "p50 ms", "p99 ms", "runs",
              "files/q");
  for (const auto& c : cases_for(size)) {
    Timing t = time_case(store, c, s);
    std::printf("%-22s %8zu %10.2f %10.2f %6d %8.1f\n", c.name.c_str(), t.records, t.p50, t.p99,
                t.runs, t.files_per_query);
  }
  const double rate = fill(store, size, size + s.window, s.batch);
  const Footprint after = footprint(o.writer.dir);
  std::printf("ingest at this size: %.0f records/s (next %llu records, batches of %zu)\n", rate,
              static_cast<unsigned long long>(s.window), s.batch);
  std::printf("RSS %.0f MiB (peak %.0f MiB)\n", after.rss_mib, after.peak_rss_mib);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Query latency and ingest rate of the log store as it grows"};
  Settings s;
  app.add_option("-n,--records", s.sizes, "store sizes measured, ascending (0 = empty)")
      ->delimiter(',');
  app.add_option("--runs", s.runs, "runs per query (p50 and p99 over them)")
      ->check(CLI::PositiveNumber);
  app.add_option("--budget", s.budget_s, "seconds per query after which fewer runs (>= 3) do");
  app.add_option("--window", s.window, "records appended, and timed, at each size")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", s.batch, "records per append")->check(CLI::PositiveNumber);
  app.add_option("--max-files", s.max_files, "files retained (10 MiB each)");
  app.add_option("--dir", s.parent, "where the files are written (default: the temp dir)");
  app.add_flag("--keep", s.keep, "keep the files (their directory is printed)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  std::sort(s.sizes.begin(), s.sizes.end());

  StoreOptions o;
  o.writer.dir = std::filesystem::path(s.parent) / ("wl-query-bench-" + new_uuid());
  o.writer.max_files = s.max_files;
  std::printf("store in %s, %u files of 10 MiB at most, index of %zu records\n",
              o.writer.dir.c_str(), s.max_files, o.index_capacity);
  std::uint64_t stored = 0;
  for (std::uint64_t size : s.sizes) {
    if (size > stored) {
      LogStore store(o);
      double rate = fill(store, stored, size, s.batch);
      std::printf("\nfilled %llu -> %llu records at %.0f records/s\n",
                  static_cast<unsigned long long>(stored), static_cast<unsigned long long>(size),
                  rate);
      stored = size;
    }
    measure_size(o, stored, s);
    stored += s.window;
  }
  if (!s.keep) {
    std::error_code ec;
    std::filesystem::remove_all(o.writer.dir, ec);
  }
  return 0;
}
