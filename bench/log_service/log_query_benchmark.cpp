// Query latency of the log store with and without its in-memory index: N records are written
// to rotating CSV files, then typical queries are timed (median of several runs) once served
// from memory (index of the newest records) and once by reading the files.
//
//   build/bench/logging/log_query_benchmark --records 200000 --index 100000
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/log_store/store.hpp"

namespace {

using namespace wonderland;
using namespace wonderland::log_store;
using Clock = std::chrono::steady_clock;

Record make(int i) {
  static const char* kServices[] = {"orders", "inventory", "payments", "mediator", "gateway"};
  Record r;
  r.time = SystemTime(std::chrono::milliseconds(1'764'000'000'000LL + i * 10LL));
  r.service = kServices[i % 5];
  r.severity = static_cast<Severity>(i % 10 == 0 ? 3 : (i % 4 == 0 ? 2 : 1));
  r.correlation_id = "corr-" + std::to_string(i / 20);
  r.message = "request " + std::to_string(i) + " handled, status=ok, path=\"/api/books\"";
  if (i % 10'000 == 7)
    r.message = "rare needle " + std::to_string(i);
  r.fields = {{"i", i}, {"duration_ms", i % 97}, {"user", "Müller"}};
  return r;
}

struct Case {
  std::string name;
  Query query;
  int pages = 1;  // pages fetched, following cursors
};

double median_ms(LogStore& store, const Case& c, int runs, std::size_t& returned) {
  std::vector<double> times;
  for (int run = 0; run < runs; ++run) {
    Query q = c.query;
    returned = 0;
    auto start = Clock::now();
    for (int p = 0; p < c.pages; ++p) {
      QueryPage page = store.query(q);
      returned += page.records.size();
      if (!page.next_cursor)
        break;
      q.cursor = Cursor::decode(*page.next_cursor);
    }
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Query latency of the log store"};
  int records = 200'000;
  std::size_t index = 100'000;
  int runs = 5;
  std::string parent = std::filesystem::temp_directory_path().string();
  app.add_option("-n,--records", records, "records stored")->check(CLI::PositiveNumber);
  app.add_option("--index", index, "index capacity of the indexed run");
  app.add_option("--runs", runs, "runs per query (the median is shown)")
      ->check(CLI::PositiveNumber);
  app.add_option("--dir", parent, "where the files are written (default: the temp dir)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  const auto dir = std::filesystem::path(parent) / ("wl-query-bench-" + new_uuid());
  StoreOptions o;
  o.writer.dir = dir;
  o.writer.max_files = 100;
  o.index_capacity = 0;
  auto start = Clock::now();
  {
    LogStore writer(o);
    std::vector<Record> batch;
    for (int i = 0; i < records; ++i) {
      batch.push_back(make(i));
      if (batch.size() == 1000)
        writer.append(std::move(batch)), batch.clear();
    }
    if (!batch.empty())
      writer.append(std::move(batch));
  }
  double write_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::uintmax_t bytes = 0;
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    bytes += e.file_size();
    ++files;
  }
  std::printf(
      "%d records, %d files, %.1f MiB, written in %.2f s (%.0f records/s in batches of 1000)\n\n",
      records, files, static_cast<double>(bytes) / (1 << 20), write_s, records / write_s);

  auto filter = [](std::map<std::string, std::string> params) {
    return Filter::from_params(params).value();
  };
  std::vector<Case> cases;
  cases.push_back({"newest 100", Query{}, 1});
  {
    Query q;
    q.limit = 1000;
    cases.push_back({"newest 1000", q, 1});
  }
  {
    Query q;
    q.filter = filter({{"service", "payments"}, {"min_severity", "warning"}});
    cases.push_back({"service+min_severity", q, 1});
  }
  {
    Query q;
    q.filter = filter({{"correlation_id", "corr-" + std::to_string(records / 20 - 3)}});
    cases.push_back({"recent correlation", q, 1});
  }
  {
    Query q;
    q.filter = filter({{"correlation_id", "corr-5"}});
    cases.push_back({"oldest correlation", q, 1});
  }
  {
    Query q;
    q.filter = filter({{"text", "RARE NEEDLE"}});
    cases.push_back({"rare text (all)", q, 1});
  }
  {
    Query q;
    q.limit = 1000;
    cases.push_back({"20 pages of 1000", q, 20});
  }

  std::printf("%-22s %10s %14s %14s\n", "query", "records", "index ms", "files ms");
  StoreOptions with_index = o;
  with_index.index_capacity = index;
  start = Clock::now();
  LogStore indexed(with_index);
  double load_s = std::chrono::duration<double>(Clock::now() - start).count();
  LogStore scanning(o);
  for (const auto& c : cases) {
    std::size_t n_indexed = 0;
    std::size_t n_scanned = 0;
    double a = median_ms(indexed, c, runs, n_indexed);
    double b = median_ms(scanning, c, runs, n_scanned);
    std::printf("%-22s %10zu %14.2f %14.2f%s\n", c.name.c_str(), n_indexed, a, b,
                n_indexed == n_scanned ? "" : "  MISMATCH");
  }
  std::printf("\nindex of %zu records loaded at start-up in %.2f s\n", index, load_s);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
