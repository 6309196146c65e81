// Load benchmark of the running bookstore: simulated customers over the public HTTP API. Each
// signs in, then does the buying journey again and again: put two books in the basket, order,
// and wait until the order is confirmed. Sign-in is timed on its own: its cost is the argon2id
// verification, which is slow by design and bounds sign-ins per second, not orders. Prints, per
// number of concurrent customers, the confirmed orders per second, the order completion time (POST
// /api/orders until a long poll of GET /api/orders/{id}?wait_ms= says confirmed) and the CPU share
// of every process of the system in the measured window.
//
//   build/bench/bookstore/load_benchmark --url http://127.0.0.1:8080 --customers 1,16,64
//
// scripts/bench-bookstore.sh starts a whole system with a catalogue deep enough to sell from
// for minutes, runs this, then wrk against GET /api/books.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/bench/process.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/testing/http_client.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using wonderland::testing::HttpClient;
using wonderland::testing::HttpResponse;

constexpr char kPassword[] = "load-benchmark-password";

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<int> customers{1, 16, 64};
  double seconds = 10;
  double warmup = 2;
  std::vector<std::string> isbns;  // empty: the two titles with the deepest stock
  std::string var_dir;             // the system's WONDERLAND_VAR_DIR, to find its processes
};

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

[[noreturn]] void fail(const std::string& what, const HttpResponse& r) {
  throw std::runtime_error(what + ": HTTP " + std::to_string(r.status) + " " +
                           r.body.substr(0, 300));
}

// ---- CPU share per process, from /proc -------------------------------------------------------

constexpr const char* kClientsGroup = "load_benchmark (clients)";

/// A process's display name: the service binaries by name, the broker and database by role.
std::string group_of(const std::string& comm) {
  if (comm.rfind("wonderland-", 0) == 0)
    return comm;
  if (comm == "beam.smp" || comm.rfind("erl_", 0) == 0 || comm == "epmd" || comm == "inet_gethost")
    return "rabbitmq";
  if (comm == "postgres" || comm == "postmaster")
    return "postgresql";
  if (comm == "load_benchmark")
    return kClientsGroup;
  return {};
}

struct ProcessTicks {
  std::string group;
  long long ticks = 0;  ///< user + system
};

/// True when the process was started with WONDERLAND_VAR_DIR=`var_dir` in its environment.
bool started_for(int pid, const std::string& var_dir) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  const std::string wanted = "WONDERLAND_VAR_DIR=" + var_dir;
  std::string entry;
  while (std::getline(in, entry, '\0'))
    if (entry == wanted)
      return true;
  return false;
}

/// CPU ticks of every process that belongs to the system, by pid. With a `var_dir`, only the
/// processes started for that system (and their children: PostgreSQL's backends rewrite their
/// environment); without, every process of a known name.
std::map<int, ProcessTicks> cpu_ticks(const std::string& var_dir) {
  struct Proc {
    int ppid = 0;
    ProcessTicks ticks;
  };
  std::map<int, Proc> all;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0])))
      continue;
    auto stat = wonderland::bench::read_proc_stat(entry.path());
    if (!stat)
      continue;
    Proc p;
    p.ppid = stat->ppid;
    p.ticks.group = group_of(stat->comm);
    p.ticks.ticks = stat->ticks;
    all[std::stoi(pid)] = p;
  }
  const int self = static_cast<int>(getpid());
  std::map<int, ProcessTicks> ticks;
  for (const auto& [pid, p] : all) {
    if (p.ticks.group.empty())
      continue;
    bool member = var_dir.empty() || pid == self;
    for (int at = pid, depth = 0; !member && at > 1 && depth < 8; ++depth) {
      member = started_for(at, var_dir);
      auto it = all.find(at);
      at = it == all.end() ? 0 : it->second.ppid;
    }
    if (member)
      ticks[pid] = p.ticks;
  }
  return ticks;
}

/// Percent of one core per group between two samples (a process started in between counts
/// from zero; one that ended in between is not counted).
std::map<std::string, double> cpu_percent(const std::map<int, ProcessTicks>& before,
                                          const std::map<int, ProcessTicks>& after,
                                          double seconds) {
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::map<std::string, double> percent;
  for (const auto& [pid, now] : after) {
    auto it = before.find(pid);
    long long then = it != before.end() && it->second.group == now.group ? it->second.ticks : 0;
    percent[now.group] += 100.0 * static_cast<double>(now.ticks - then) / hz / seconds;
  }
  return percent;
}

// ---- The simulated customers ------------------------------------------------------------------

struct Customer {
  std::string username;
  std::string token;  ///< the session of the journeys
};

Customer sign_up(HttpClient& http) {
  Customer c{"load_" + wonderland::fast_random_hex(6)};
  json body{{"username", c.username},
            {"email", c.username + "@example.com"},
            {"password", kPassword},
            {"first_name", "Load"},
            {"last_name", "Benchmark"}};
  // The mediator may be ready before every service consumes its queue: a first request can then
  // time out (504, retryable). Such answers are retried for a while.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    HttpResponse r = http.post_json("/api/customers", body);
    if (r.status == 201)
      return c;
    if (r.status < 500 || Clock::now() > deadline)
      fail("sign-up", r);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

struct Journey {
  Clock::time_point ordered;   ///< when POST /api/orders was sent
  Clock::time_point finished;  ///< when the final status was seen
  bool confirmed = false;
};

/// Signs in; returns the session token.
std::string sign_in(HttpClient& http, const Customer& c) {
  HttpResponse r =
      http.post_json("/api/sessions", {{"username", c.username}, {"password", kPassword}});
  if (r.status != 200 && r.status != 201)
    fail("sign-in", r);
  return r.json().at("token");
}

/// Fills the basket, orders and waits for the order's end.
Journey journey(HttpClient& http, const std::string& token, const std::vector<std::string>& isbns) {
  HttpResponse r;
  for (const auto& isbn : isbns) {
    r = http.put_json("/api/basket/items/" + isbn, {{"quantity", 1}}, token);
    if (r.status / 100 != 2)
      fail("basket", r);
  }
  json payment{
      {"method", "visa"}, {"card_number", "4242424242424242"}, {"expiry", "12/39"}, {"cvv", "123"}};
  auto headers = bearer(token);
  headers["Idempotency-Key"] = wonderland::new_uuid();
  Journey j;
  j.ordered = Clock::now();
  r = http.post_json("/api/orders", {{"payment", payment}}, token, headers);
  if (r.status != 202)
    fail("order", r);
  // A long poll: the mediator answers as soon as the order ends.
  const std::string target =
      "/api/orders/" + r.json().at("order_id").get<std::string>() + "?wait_ms=10000";
  for (;;) {
    r = http.get(target, token);
    if (r.status != 200)
      fail("order status", r);
    std::string status = r.json().value("status", "");
    if (status != "pending") {
      j.finished = Clock::now();
      j.confirmed = status == "confirmed";
      return j;
    }
  }
}

struct Level {
  int customers = 0;
  double seconds = 0;
  std::size_t confirmed = 0;
  std::size_t failed = 0;
  std::vector<double> completion_ms;
  std::map<std::string, double> cpu_percent;  ///< of one core
  std::size_t errors = 0;
  std::string first_error;
};

Level run_level(const Options& o, const std::vector<Customer>& customers,
                const std::vector<std::string>& isbns, int n) {
  Level level;
  level.customers = n;
  std::mutex mu;
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto measure_to = measure_from + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      HttpClient http(o.port, o.host);
      std::string token = customers[static_cast<std::size_t>(i)].token;
      while (!stop.load()) {
        try {
          if (token.empty())
            token = sign_in(http, customers[static_cast<std::size_t>(i)]);
          Journey j = journey(http, token, isbns);
          if (j.ordered < measure_from || j.finished > measure_to)
            continue;
          std::lock_guard lock(mu);
          if (j.confirmed) {
            ++level.confirmed;
            level.completion_ms.push_back(
                std::chrono::duration<double, std::milli>(j.finished - j.ordered).count());
          } else {
            ++level.failed;
          }
        } catch (const std::exception& e) {
          token.clear();
          std::lock_guard lock(mu);
          if (level.errors++ == 0)
            level.first_error = e.what();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    });
  }
  std::this_thread::sleep_until(measure_from);
  auto before = cpu_ticks(o.var_dir);
  std::this_thread::sleep_until(measure_to);
  auto after = cpu_ticks(o.var_dir);
  stop = true;
  for (auto& t : threads)
    t.join();
  level.seconds = o.seconds;
  level.cpu_percent = cpu_percent(before, after, o.seconds);
  return level;
}

/// The CPU share of the system's processes (all but the load generator), % of one core.
double system_percent(const Level& l) {
  double sum = 0;
  for (const auto& [group, percent] : l.cpu_percent) {
    if (group != kClientsGroup)
      sum += percent;
  }
  return sum;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

/// The two titles with the deepest stock (the benchmark sells one copy of each per order).
std::vector<std::string> deepest_titles(HttpClient& http) {
  std::vector<std::pair<long long, std::string>> stock;
  for (int page = 1;; ++page) {
    HttpResponse r = http.get("/api/books?page_size=100&page=" + std::to_string(page));
    if (r.status != 200)
      fail("book list", r);
    json body = r.json();
    const json& items = body.is_array() ? body : body.value("items", json::array());
    for (const auto& b : items)
      stock.emplace_back(b.value("stock", 0LL), b.value("isbn", ""));
    if (items.size() < 100)
      break;
  }
  if (stock.size() < 2)
    throw std::runtime_error("the catalogue has fewer than two titles");
  std::sort(stock.rbegin(), stock.rend());
  std::printf("titles: %s (stock %lld), %s (stock %lld)\n", stock[0].second.c_str(), stock[0].first,
              stock[1].second.c_str(), stock[1].first);
  return {stock[0].second, stock[1].second};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string url = "http://127.0.0.1:8080";
  CLI::App app{
      "Wonderland bookstore load benchmark: whole customer journeys against a running system"};
  app.add_option("--url", url, "the mediator's HTTP address (http://host:port)")
      ->capture_default_str();
  app.add_option("--customers", o.customers, "numbers of concurrent customers, one run each")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "measured seconds per run")->capture_default_str();
  app.add_option("--warmup", o.warmup, "seconds before measuring, per run")->capture_default_str();
  app.add_option("--isbn", o.isbns,
                 "the titles to buy (two; default: the two with the deepest stock)");
  app.add_option(
      "--var-dir", o.var_dir,
      "the system's WONDERLAND_VAR_DIR: CPU shares count only its processes (default: every "
      "process of a known name)");
  CLI11_PARSE(app, argc, argv);

  try {
    std::string rest = url;
    if (rest.rfind("http://", 0) == 0)
      rest = rest.substr(7);
    if (auto slash = rest.find('/'); slash != std::string::npos)
      rest.resize(slash);
    if (auto colon = rest.rfind(':'); colon != std::string::npos) {
      o.host = rest.substr(0, colon);
      o.port = std::stoi(rest.substr(colon + 1));
    } else {
      o.host = rest;
      o.port = 80;
    }
    HttpClient http(o.port, o.host);
    std::vector<std::string> isbns = o.isbns.empty() ? deepest_titles(http) : o.isbns;
    int most = *std::max_element(o.customers.begin(), o.customers.end());
    std::vector<Customer> customers;
    std::vector<double> sign_in_ms;
    for (int i = 0; i < most; ++i) {
      customers.push_back(sign_up(http));
      auto t0 = Clock::now();
      customers.back().token = sign_in(http, customers.back());
      sign_in_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    std::printf(
        "%d customers signed up and in; sign-in (argon2id verification) p50 %.2f ms, max %.2f ms\n",
        most, percentile(sign_in_ms, 0.5), percentile(sign_in_ms, 1.0));
    std::printf("each run: %.0f s warm-up, %.0f s measured\n\n", o.warmup, o.seconds);

    std::vector<Level> levels;
    for (int n : o.customers)
      levels.push_back(run_level(o, customers, isbns, n));

    std::printf("%-10s %12s %9s %9s %9s %9s %7s\n", "customers", "confirmed/s", "failed", "p50 ms",
                "p99 ms", "mean ms", "errors");
    for (const auto& l : levels) {
      double mean = 0;
      for (double v : l.completion_ms)
        mean += v;
      if (!l.completion_ms.empty())
        mean /= static_cast<double>(l.completion_ms.size());
      std::printf("%-10d %12.1f %9zu %9.2f %9.2f %9.2f %7zu\n", l.customers,
                  static_cast<double>(l.confirmed) / l.seconds, l.failed,
                  percentile(l.completion_ms, 0.50), percentile(l.completion_ms, 0.99), mean,
                  l.errors);
    }
    std::printf("\nCPU share in the measured window (%% of one core; the machine has %ld):\n",
                sysconf(_SC_NPROCESSORS_ONLN));
    std::printf("%-28s", "process");
    for (const auto& l : levels)
      std::printf(" %9d", l.customers);
    std::printf("\n");
    std::map<std::string, bool> groups;
    for (const auto& l : levels)
      for (const auto& [g, _] : l.cpu_percent)
        groups[g] = true;
    for (const auto& [g, _] : groups) {
      std::printf("%-28s", g.c_str());
      for (const auto& l : levels) {
        auto it = l.cpu_percent.find(g);
        std::printf(" %8.1f%%", it == l.cpu_percent.end() ? 0.0 : it->second);
      }
      std::printf("\n");
    }
    // The figure the targets are about: the whole system's CPU (every process above but the
    // load generator) over the confirmed orders of the same window. Journeys that straddle the
    // window's edges are not counted as orders while their CPU is: if anything, this is high.
    std::printf("%-28s", "system, all but the clients");
    for (const auto& l : levels)
      std::printf(" %8.1f%%", system_percent(l));
    std::printf("\n%-28s", "CPU ms per confirmed order");
    for (const auto& l : levels) {
      const double per_second = static_cast<double>(l.confirmed) / l.seconds;
      std::printf(" %9.2f", per_second > 0 ? system_percent(l) * 10.0 / per_second : 0.0);
    }
    std::printf("\n");
    bool any_error = false;
    for (const auto& l : levels) {
      if (l.errors > 0) {
        std::printf("\n%d customers: %zu journeys failed with an error; first: %s\n", l.customers,
                    l.errors, l.first_error.c_str());
        any_error = true;
      }
    }
    return any_error ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load_benchmark: %s\n", e.what());
    return 1;
  }
}
