// End-to-end failover test: three mediators on one PostgreSQL journal behind HAProxy, every
// process on a private three-node RabbitMQ cluster with quorum queues, and a stream of
// purchases (good cards, PayPal, declined cards) through the balancer while
//   - a mediator is killed (SIGKILL) and, while it restarts, a second one;
//   - a RabbitMQ node is killed and later started again;
//   - a mediator is frozen (SIGSTOP) for longer than its lease, then thawed (fenced out).
// Each time, the workflows of the failed mediator must be owned by another within 5 s. Once the
// stream stops, every accepted order is final, and stock, charges, emails and journals agree
// with the confirmed orders exactly.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/system.hpp"
#include "wonderland/testing/system_suite.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using wonderland::testing::HttpClient;
using wonderland::testing::HttpResponse;
using wonderland::testing::PrivateCluster;
using wonderland::testing::SystemOptions;
using wonderland::testing::SystemSuite;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

constexpr char kAdminToken[] = "failover-operator-token";
constexpr char kPassword[] = "correct horse battery";
constexpr int kNodes = 3;
constexpr int kMediators = 3;
constexpr int kShoppers = 5;
/// The bound: a failed mediator's workflows are owned by another within this.
constexpr Millis kTakeoverBound = 5s;
/// How long the frozen mediator stays stopped: well past its 1 s lease.
constexpr Millis kFrozenFor = 3s;
const wonderland::testing::CatalogueBook kBook{"9780000009135", "Failover", 1875, 100000};

long long ms(Clock::duration d) {
  return std::chrono::duration_cast<Millis>(d).count();
}

std::string future_expiry() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  const int yy = (utc.tm_year + 1900 + 2) % 100;
  return std::string("12/") + (yy < 10 ? "0" : "") + std::to_string(yy);
}

/// The payment of a shopper's n-th order: a good card, PayPal, or a card the provider declines
/// (every third order). Sets `confirms` to whether the order should be confirmed.
json payment_for(int n, bool& confirms) {
  confirms = n % 3 != 2;
  if (n % 3 == 1)
    return json{{"method", "paypal"}, {"paypal_email", "failover@example.com"}};
  return json{{"method", "visa"},
              {"card_number", n % 3 == 0 ? "4242 4242 4242 4242" : "4000 0000 0000 0002"},
              {"expiry", future_expiry()},
              {"cvv", "123"}};
}

bool final_status(const json& order) {
  const std::string status = order.value("status", "");
  return status == "confirmed" || status == "failed";
}

/// One accepted order and how it ended.
struct Placed {
  std::string order_id;
  bool should_confirm = false;
  json order;  ///< the last view read (final unless the wait ran out)
};

/// Shoppers buying through the balancer until stopped: each signs up once, then sets its basket,
/// orders with an Idempotency-Key and long-polls the order until it is final, again and again.
/// Requests cut off by a failure (a dropped connection, or 502/503/504 from the balancer or a
/// mediator without a broker) are sent again as they were, with the same key; anything else is an
/// error.
class Stream {
 public:
  explicit Stream(int port) : port_(port) {}
  ~Stream() { stop(); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void start() {
    for (int i = 0; i < kShoppers; ++i)
      threads_.emplace_back([this, i] { shop(i); });
  }
  /// Lets every shopper finish the order it is on, then joins them.
  void stop() {
    stopping_ = true;
    for (auto& t : threads_)
      t.join();
    threads_.clear();
  }
  int accepted() const { return accepted_; }
  int settled() const { return settled_; }
  /// Waits until `more` orders beyond those accepted so far were accepted.
  bool await_accepted(int more, Millis timeout) const {
    const int target = accepted_ + more;
    return wonderland::testing::eventually([&] { return accepted_ >= target; }, timeout);
  }
  std::vector<Placed> placed() const {
    std::lock_guard lock(mu_);
    return placed_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard lock(mu_);
    return errors_;
  }
  /// Requests sent again, by what cut them off.
  std::map<std::string, int> retries() const {
    std::lock_guard lock(mu_);
    return retries_;
  }

 private:
  void shop(int shopper);
  std::string sign_up(HttpClient& http, int shopper);
  /// One order: basket, POST, then the wait until it is final.
  void buy(HttpClient& http, const std::string& token, int shopper, int round);
  json await_final(HttpClient& http, const std::string& token, const std::string& id);
  /// Sends `call` until its answer is not a cut-off; throws after a minute of them.
  /// `what` names the request in the record of cut-offs.
  HttpResponse send(HttpClient& http, const std::string& what,
                    const std::function<HttpResponse()>& call);
  void fail(const std::string& what) {
    std::lock_guard lock(mu_);
    errors_.push_back(what);
  }

  const int port_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> settled_{0};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<Placed> placed_;
  std::vector<std::string> errors_;
  std::map<std::string, int> retries_;
};

HttpResponse Stream::send(HttpClient& http, const std::string& what,
                          const std::function<HttpResponse()>& call) {
  const auto deadline = Clock::now() + 60s;
  std::string last;
  while (Clock::now() < deadline) {
    std::string cut;
    try {
      HttpResponse r = call();
      if (r.status != 502 && r.status != 503 && r.status != 504)
        return r;
      cut = "HTTP " + std::to_string(r.status);
      last = describe(r);
    } catch (const std::exception& e) {
      cut = "connection";
      last = e.what();
      http.close();
    }
    {
      std::lock_guard lock(mu_);
      if (++retries_[cut] <= 3)
        std::cerr << "cut off, sent again: " << what << ": " << last << "\n";
    }
    std::this_thread::sleep_for(200ms);
  }
  throw std::runtime_error("still cut off after a minute: " + last);
}

std::string Stream::sign_up(HttpClient& http, int shopper) {
  const std::string user =
      "failover_" + std::to_string(shopper) + "_" + wonderland::fast_random_hex(4);
  const json customer{{"username", user},
                      {"email", user + "@example.com"},
                      {"password", kPassword},
                      {"first_name", "Fail"},
                      {"last_name", "Over"}};
  // A sign-up cut off after it was stored is refused as a duplicate when sent again.
  HttpResponse r =
      send(http, "POST /api/customers", [&] { return http.post_json("/api/customers", customer); });
  if (r.status != 201 && r.status != 409)
    throw std::runtime_error("sign-up: " + describe(r));
  const json credentials{{"username", user}, {"password", kPassword}};
  r = send(http, "POST /api/sessions",
           [&] { return http.post_json("/api/sessions", credentials); });
  if (r.status != 201)
    throw std::runtime_error("sign-in: " + describe(r));
  return r.json().value("token", "");
}

void Stream::shop(int shopper) {
  try {
    HttpClient http(port_);
    const std::string token = sign_up(http, shopper);
    for (int round = 0; !stopping_; ++round)
      buy(http, token, shopper, round);
  } catch (const std::exception& e) {
    fail("shopper " + std::to_string(shopper) + ": " + e.what());
  }
}

void Stream::buy(HttpClient& http, const std::string& token, int shopper, int round) {
  const int n = shopper + round;
  Placed p;
  const json payment = payment_for(n, p.should_confirm);
  const std::string basket = std::string("/api/basket/items/") + kBook.isbn;
  HttpResponse r = send(http, "PUT basket", [&] {
    return http.put_json(basket, json{{"quantity", 1 + n % 2}}, token);
  });
  if (r.status != 200)
    throw std::runtime_error("basket: " + describe(r));
  const std::map<std::string, std::string> key{{"Idempotency-Key", wonderland::new_uuid()}};
  r = send(http, "POST /api/orders", [&] {
    return http.post_json("/api/orders", json{{"payment", payment}}, token, key);
  });
  if (r.status != 202)
    throw std::runtime_error("order: " + describe(r));
  p.order_id = r.json().value("order_id", "");
  ++accepted_;
  p.order = await_final(http, token, p.order_id);
  if (final_status(p.order))
    ++settled_;
  std::lock_guard lock(mu_);
  placed_.push_back(std::move(p));
}

json Stream::await_final(HttpClient& http, const std::string& token, const std::string& id) {
  const auto deadline = Clock::now() + 180s;
  json last;
  while (Clock::now() < deadline) {
    HttpResponse r = send(http, "GET /api/orders/{id}",
                          [&] { return http.get("/api/orders/" + id + "?wait_ms=3000", token); });
    if (r.status != 200)
      throw std::runtime_error("GET /api/orders/" + id + ": " + describe(r));
    last = r.json();
    if (final_status(last))
      return last;
  }
  return last;
}

/// The .eml files of the outbox that carry an order's invoice, counted by order id.
std::map<std::string, int> invoice_mails(const fs::path& outbox,
                                         const std::vector<Placed>& placed) {
  std::map<std::string, int> count;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(outbox, ec)) {
    if (entry.path().extension() != ".eml")
      continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    for (const auto& p : placed) {
      if (text.str().find("invoice-" + p.order_id + ".pdf") != std::string::npos)
        ++count[p.order_id];
    }
  }
  return count;
}

/// What the test measured, for the summary line.
struct Takeover {
  std::string mediator;
  std::string what;     ///< "SIGKILL" or "SIGSTOP"
  long long owned = 0;  ///< running workflows the failed mediator owned
  long long took_ms = -1;
};

class FailoverE2e : public SystemSuite<FailoverE2e> {
 protected:
  static void SetUpTestSuite() {
    const auto started = Clock::now();
    try {
      cluster_ = std::make_unique<PrivateCluster>(kNodes);
    } catch (const std::exception& e) {
      start_error_ = e.what();
      return;
    }
    const auto cluster_up = Clock::now();
    SystemOptions options{.work_dir = WONDERLAND_E2E_WORK_DIR,
                          .catalogue = {kBook},
                          .admin_token = kAdminToken,
                          .tag = "failover"};
    options.mediators = kMediators;
    options.amqp_url = cluster_->urls();
    options.amqp_queue_type = "quorum";
    // Charges take long enough that orders are in flight whenever something fails.
    options.env["payment"] = {{"WONDERLAND_PAYMENT_LATENCY_MS", "500"}};
    if (start_system(std::move(options))) {
      std::cout << "[ e2e      ] cluster of " << kNodes << " nodes up in "
                << ms(cluster_up - started) << " ms, system in " << ms(Clock::now() - cluster_up)
                << " ms: " << cluster_->urls() << "\n";
    }
  }

  static void TearDownTestSuite() {
    // A failure (or WONDERLAND_E2E_KEEP=1) keeps the run folder: the brokers' logs go in it too.
    const char* keep = std::getenv("WONDERLAND_E2E_KEEP");
    if (cluster_ != nullptr && store_ != nullptr &&
        (any_failure_ || !start_error_.empty() || (keep != nullptr && std::string(keep) == "1")))
      cluster_->keep_logs(store_->dir().string());
    stop_system();
    cluster_.reset();
  }

  /// GET /api/mediators from mediator `via` itself (not through the balancer).
  json mediators_via(const std::string& via) {
    HttpClient direct(store().mediator_port(via), "127.0.0.1", 10s);
    HttpResponse r = direct.get("/api/mediators", kAdminToken);
    if (r.status != 200)
      throw std::runtime_error("GET /api/mediators on " + via + ": " + describe(r));
    return r.json();
  }

  /// The running workflows mediator `name` owns, as `via` lists them (-1 when `via` did not
  /// answer).
  long long running_of(const std::string& name, const std::string& via) {
    try {
      const json listed = mediators_via(via);
      for (const auto& m : listed.at("mediators")) {
        if (m.value("instance_id", "") == store().mediator_id(name))
          return m.value("running", 0LL);
      }
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "GET /api/mediators on " << via << ": " << e.what() << "\n";
      return -1;
    }
  }

  /// Freezes (SIGSTOP) one of `candidates` while it owns running workflows, as `via` sees it;
  /// returns its name and how many it owns ({"", 0} when none did within `patience`; a patience
  /// of 0 looks once).
  std::pair<std::string, long long> freeze_busy(const std::vector<std::string>& candidates,
                                                const std::string& via, Millis patience = 60s);
  /// Milliseconds from `failed_at` until mediator `name` owns no running workflow, as `via`
  /// sees it; -1 when that takes more than 30 s.
  long long await_takeover(const std::string& name, const std::string& via,
                           Clock::time_point failed_at);
  /// Kills (SIGKILL) a busy one of `candidates` and measures the takeover.
  Takeover kill_busy(const std::vector<std::string>& candidates, const std::string& via);
  /// Waits until a mediator started again answers /readyz on its own port.
  bool await_ready(const std::string& name, Millis timeout);
  /// The counter `metric` of mediator `name`'s /metrics (-1 when absent or not answered).
  double metric(const std::string& name, const std::string& metric);

  /// The failures while the stream runs (each leaves the system whole again).
  void kill_two_mediators(Stream& stream, std::vector<Takeover>& takeovers);
  void kill_a_broker_node(Stream& stream);
  void freeze_a_mediator(Stream& stream, std::vector<Takeover>& takeovers);

  /// The invariants once every order is final.
  void check_orders(const std::vector<Placed>& placed, std::int64_t stock_before);
  void check_mails(const std::vector<Placed>& placed);
  void check_journal(const std::vector<Placed>& placed);

  static inline std::unique_ptr<PrivateCluster> cluster_;
};

std::pair<std::string, long long> FailoverE2e::freeze_busy(
    const std::vector<std::string>& candidates, const std::string& via, Millis patience) {
  const auto deadline = Clock::now() + patience;
  do {
    for (const auto& name : candidates) {
      if (running_of(name, via) <= 0)
        continue;
      // Frozen, it can neither finish nor renew: what it owns now is what must be taken over.
      ::kill(store().process(name).pid(), SIGSTOP);
      const long long owned = running_of(name, via);
      if (owned > 0)
        return {name, owned};
      ::kill(store().process(name).pid(), SIGCONT);
    }
    std::this_thread::sleep_for(20ms);
  } while (Clock::now() < deadline);
  return {"", 0};
}

long long FailoverE2e::await_takeover(const std::string& name, const std::string& via,
                                      Clock::time_point failed_at) {
  const auto deadline = failed_at + 30s;
  while (Clock::now() < deadline) {
    if (running_of(name, via) == 0)
      return ms(Clock::now() - failed_at);
    std::this_thread::sleep_for(25ms);
  }
  return -1;
}

Takeover FailoverE2e::kill_busy(const std::vector<std::string>& candidates,
                                const std::string& via) {
  auto [name, owned] = freeze_busy(candidates, via);
  if (name.empty())
    throw std::runtime_error("no mediator owned a running workflow for a minute");
  // The failure is the freeze: from then on the mediator did nothing; the kill makes it final.
  const auto failed_at = Clock::now();
  store().process(name).kill();
  Takeover t{name, "SIGKILL", owned, await_takeover(name, via, failed_at)};
  std::cout << "[ e2e      ] SIGKILL " << name << " owning " << owned
            << " running workflow(s): taken "
            << "over in " << t.took_ms << " ms\n";
  return t;
}

bool FailoverE2e::await_ready(const std::string& name, Millis timeout) {
  return wonderland::testing::eventually(
      [&] {
        try {
          HttpClient direct(store().mediator_port(name), "127.0.0.1", 5s);
          return direct.get("/readyz").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      timeout);
}

double FailoverE2e::metric(const std::string& name, const std::string& metric) {
  try {
    HttpClient direct(store().mediator_port(name), "127.0.0.1", 10s);
    HttpResponse r = direct.get("/metrics", kAdminToken);
    std::istringstream lines(r.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(metric + " ", 0) == 0)
        return std::stod(line.substr(metric.size() + 1));
    }
  } catch (const std::exception& e) {
    std::cerr << "GET /metrics on " << name << ": " << e.what() << "\n";
  }
  return -1;
}

void FailoverE2e::kill_two_mediators(Stream& stream, std::vector<Takeover>& takeovers) {
  const auto names = store().mediator_names();  // mediator-1, mediator-2, mediator-3
  ASSERT_TRUE(stream.await_accepted(kShoppers, 90s)) << "the stream did not start";
  // The first victim: mediator-1 or -2, watched from mediator-3.
  Takeover first = kill_busy({names[0], names[1]}, names[2]);
  takeovers.push_back(first);
  const std::string restarting = first.mediator;
  const std::string second_victim = restarting == names[0] ? names[1] : names[0];
  // It starts again under its id; while it is starting, the second one is killed.
  store().process(restarting).start();
  ASSERT_TRUE(stream.await_accepted(2, 60s)) << "no order accepted after the first kill";
  takeovers.push_back(kill_busy({second_victim}, names[2]));
  ASSERT_TRUE(await_ready(restarting, 60s)) << restarting << " did not come back";
  store().process(second_victim).start();
  ASSERT_TRUE(await_ready(second_victim, 60s)) << second_victim << " did not come back";
}

void FailoverE2e::kill_a_broker_node(Stream& stream) {
  ASSERT_TRUE(stream.await_accepted(kShoppers, 60s)) << "no orders after the restarts";
  // Node 0, the first of every process's URL list: the one they all connected to first.
  const auto killed_at = Clock::now();
  cluster_->kill_node(0);
  const int settled = stream.settled();
  ASSERT_TRUE(stream.await_accepted(kShoppers, 90s)) << "no orders accepted without node 0";
  ASSERT_TRUE(wonderland::testing::eventually([&] { return stream.settled() > settled; }, 90s))
      << "no order settled without node 0";
  std::cout << "[ e2e      ] RabbitMQ node 0 killed; orders flowed on without it; starting it "
            << "again after " << ms(Clock::now() - killed_at) << " ms\n";
  cluster_->start_node(0);
  ASSERT_TRUE(stream.await_accepted(kShoppers, 90s)) << "no orders after node 0 came back";
}

void FailoverE2e::freeze_a_mediator(Stream& stream, std::vector<Takeover>& takeovers) {
  const auto names = store().mediator_names();
  // The balancer keeps a shopper's connection on one mediator, and the restarts above may have
  // left every shopper on the same one: whichever is busy is frozen, watched from the next.
  std::map<std::string, double> lost_before;
  for (const auto& n : names) {
    lost_before[n] = metric(n, "wonderland_workflows_lost_total");
    ASSERT_GE(lost_before[n], 0) << n << " shows no wonderland_workflows_lost_total";
  }
  const auto watcher_of = [&names](const std::string& n) {
    const auto i =
        static_cast<std::size_t>(std::find(names.begin(), names.end(), n) - names.begin());
    return names[(i + 1) % names.size()];
  };
  std::string name;
  long long owned = 0;
  const auto deadline = Clock::now() + 60s;
  while (name.empty() && Clock::now() < deadline) {
    for (const auto& n : names) {
      std::tie(name, owned) = freeze_busy({n}, watcher_of(n), 0s);
      if (!name.empty())
        break;
    }
    std::this_thread::sleep_for(20ms);
  }
  if (name.empty()) {
    // What each mediator says it did, for the diagnosis.
    for (const auto& n : names) {
      std::cerr << n << ": started " << metric(n, "wonderland_workflows_started_total")
                << ", in flight " << metric(n, "wonderland_workflows_in_flight") << "\n";
    }
  }
  ASSERT_FALSE(name.empty()) << "no mediator owned a running workflow for a minute";
  const std::string via = watcher_of(name);
  const auto frozen_at = Clock::now();
  Takeover t{name, "SIGSTOP", owned, await_takeover(name, via, frozen_at)};
  std::this_thread::sleep_until(frozen_at + kFrozenFor);
  ::kill(store().process(name).pid(), SIGCONT);
  std::cout << "[ e2e      ] SIGSTOP " << name << " for " << ms(kFrozenFor) << " ms owning "
            << owned << " running workflow(s): taken over in " << t.took_ms << " ms (seen from "
            << via << ")\n";
  takeovers.push_back(t);
  // Thawed, it finds out that it lost them (and drops them, writing and sending nothing).
  EXPECT_TRUE(wonderland::testing::eventually(
      [&] { return metric(name, "wonderland_workflows_lost_total") >= lost_before[name] + 1; },
      20s))
      << name << " did not notice that its workflows were taken over";
  ASSERT_TRUE(stream.await_accepted(kShoppers, 60s)) << "no orders after the thaw";
}

void FailoverE2e::check_orders(const std::vector<Placed>& placed, std::int64_t stock_before) {
  std::int64_t confirmed_copies = 0;
  for (const auto& p : placed) {
    const std::string status = p.order.value("status", "");
    ASSERT_TRUE(final_status(p.order)) << p.order_id << " is not final: " << p.order.dump();
    // Declined payments fail; everything else is confirmed, whatever failed meanwhile.
    EXPECT_EQ(status, p.should_confirm ? "confirmed" : "failed") << p.order.dump();
    const json ledger = store().ledger(p.order_id);
    int charges = 0;
    int refunds = 0;
    for (const auto& e : ledger.value("entries", json::array())) {
      charges += e.value("kind", "") == "charge" ? 1 : 0;
      refunds += e.value("kind", "") == "refund" ? 1 : 0;
    }
    if (status == "confirmed") {
      for (const auto& line : p.order.value("items", json::array()))
        confirmed_copies += line.value("quantity", 0);
      EXPECT_EQ(charges, 1) << ledger.dump();
      EXPECT_EQ(refunds, 0) << ledger.dump();
      EXPECT_EQ(ledger.value("charged_cents", 0), p.order.value("total_cents", -1))
          << ledger.dump();
    } else {
      // No live charge: none, or one refunded in full.
      EXPECT_LE(charges, 1) << ledger.dump();
      EXPECT_EQ(ledger.value("charged_cents", -1), ledger.value("refunded_cents", -2))
          << ledger.dump();
    }
  }
  auto book = store().rpc("inventory", "inventory.get_book", json{{"isbn", kBook.isbn}});
  ASSERT_TRUE(book.ok()) << book.error().message;
  EXPECT_EQ(stock_before - book.value().value("stock", std::int64_t{-1}), confirmed_copies)
      << "the stock sold differs from the copies confirmed";
}

void FailoverE2e::check_mails(const std::vector<Placed>& placed) {
  int confirmed = 0;
  for (const auto& p : placed)
    confirmed += p.order.value("status", "") == "confirmed" ? 1 : 0;
  // The emails follow the confirmations: wait until there are as many, then count exactly.
  std::map<std::string, int> mails;
  wonderland::testing::eventually(
      [&] {
        mails = invoice_mails(store().outbox(), placed);
        return static_cast<int>(mails.size()) >= confirmed;
      },
      60s);
  for (const auto& p : placed) {
    const int expected = p.order.value("status", "") == "confirmed" ? 1 : 0;
    EXPECT_EQ(mails[p.order_id], expected)
        << "invoice emails for " << p.order.value("status", "") << " order " << p.order_id;
  }
}

void FailoverE2e::check_journal(const std::vector<Placed>& placed) {
  HttpClient http(store().port());
  for (const auto& p : placed) {
    // A confirmed order's workflow may still be announcing it (purchase v5 confirms at its
    // pivot): wait for its last record.
    HttpResponse r;
    wonderland::testing::eventually(
        [&] {
          r = http.get("/api/workflows/" + p.order_id, kAdminToken);
          return r.status == 200 && r.json().value("status", "") != "running";
        },
        30s);
    ASSERT_EQ(r.status, 200) << describe(r);
    const json timeline = r.json().value("timeline", json::array());
    ASSERT_FALSE(timeline.empty()) << p.order_id;
    // Written once each: no record of a mediator that lost the workflow slipped in.
    std::map<std::string, int> succeeded;
    int final_records = 0;
    for (const auto& record : timeline) {
      const std::string type = record.value("type", "");
      if (type == "step_succeeded" || type == "compensation_succeeded")
        ++succeeded[type + " " + record.value("step", "")];
      final_records += type == "completed" || type == "failed" ? 1 : 0;
    }
    for (const auto& [what, n] : succeeded)
      EXPECT_EQ(n, 1) << what << " of " << p.order_id << " recorded " << n << " times";
    EXPECT_EQ(final_records, 1) << timeline.dump();
    const std::string last = timeline.back().value("type", "");
    EXPECT_TRUE(last == "completed" || last == "failed") << timeline.dump();
  }
}

TEST_F(FailoverE2e, PurchasesRideOutMediatorAndBrokerFailures) {
  const auto started = Clock::now();
  auto book = store().rpc("inventory", "inventory.get_book", json{{"isbn", kBook.isbn}});
  ASSERT_TRUE(book.ok()) << book.error().message;
  const std::int64_t stock_before = book.value().value("stock", std::int64_t{-1});
  Stream stream(store().port());
  stream.start();
  std::vector<Takeover> takeovers;
  kill_two_mediators(stream, takeovers);
  if (!HasFatalFailure())
    kill_a_broker_node(stream);
  if (!HasFatalFailure())
    freeze_a_mediator(stream, takeovers);
  stream.stop();
  for (const auto& t : takeovers) {
    EXPECT_GT(t.took_ms, -1) << t.mediator << " (" << t.what << ") was never taken over";
    EXPECT_LT(t.took_ms, ms(kTakeoverBound)) << t.mediator << " (" << t.what << ")";
  }
  EXPECT_EQ(takeovers.size(), 3u);
  const auto errors = stream.errors();
  EXPECT_TRUE(errors.empty()) << errors.size() << " shopper error(s), first: " << errors.front();
  const auto placed = stream.placed();
  check_orders(placed, stock_before);
  check_mails(placed);
  check_journal(placed);

  int confirmed = 0;
  for (const auto& p : placed)
    confirmed += p.order.value("status", "") == "confirmed" ? 1 : 0;
  std::string retried;
  for (const auto& [why, n] : stream.retries())
    retried += " " + why + ":" + std::to_string(n);
  std::cout << "[ e2e      ] failover: " << placed.size() << " orders, " << confirmed
            << " confirmed, " << placed.size() - static_cast<std::size_t>(confirmed)
            << " failed; takeovers:";
  for (const auto& t : takeovers)
    std::cout << " " << t.what << " " << t.mediator << " (" << t.owned << " wf) " << t.took_ms
              << " ms;";
  std::cout << " requests sent again:" << (retried.empty() ? " none" : retried) << "; took "
            << ms(Clock::now() - started) << " ms\n";
}

}  // namespace
