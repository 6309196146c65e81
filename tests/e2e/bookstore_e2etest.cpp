// End-to-end tests of the whole bookstore: the real binaries (inventory, customer, payment,
// notification, mediator) run as child processes against the harness's RabbitMQ and
// PostgreSQL, and every test talks to the mediator over real HTTP, as a browser would.
//
// The system is wonderland::testing::System (tests/support): queues, customer schema and files
// of its own per run; the run's folder under the build folder is removed when every test passed,
// unless WONDERLAND_E2E_KEEP=1. Each test buys titles of its own, so the order of the tests does
// not matter. Two tests buy in a stream while services are restarted, or PostgreSQL and the
// broker are down for 30 s each, and check that stock, charges and emails add up.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/process.hpp"
#include "wonderland/testing/shopping.hpp"
#include "wonderland/testing/system.hpp"
#include "wonderland/testing/system_suite.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using wonderland::testing::await_order;
using wonderland::testing::card;
using wonderland::testing::declined_visa;
using wonderland::testing::expect_problem;
using wonderland::testing::good_mastercard;
using wonderland::testing::good_visa;
using wonderland::testing::HttpClient;
using wonderland::testing::HttpResponse;
using wonderland::testing::is_problem;
using wonderland::testing::place_order;
using wonderland::testing::settled;
using wonderland::testing::Shopper;
using wonderland::testing::sign_up;
using wonderland::testing::System;
using wonderland::testing::SystemSuite;
using Clock = std::chrono::steady_clock;

constexpr char kAdminToken[] = "e2e-operator-token-0c7d41f9";
constexpr const char* kPassword = wonderland::testing::kShopperPassword;

// ---- The test catalogue: one title per scenario, so that stock arithmetic stays exact. --------

using TestBook = wonderland::testing::CatalogueBook;

const TestBook kFirstTitle{"9780000000118", "E2E Purchase One", 1250, 50};
const TestBook kSecondTitle{"9780000000224", "E2E Purchase Two", 999, 50};
const TestBook kDeclinedTitle{"9780000000330", "E2E Declined", 1500, 50};
const TestBook kSoldOutTitle{"9780000000446", "E2E Sold Out", 2000, 0};
const TestBook kScarceTitle{"9780000000552", "E2E Scarce", 700, 10};
const TestBook kSteadyTitle{"9780000000668", "E2E Steady", 1100, 100};
const TestBook kRestartTitle{"9780000000774", "E2E Restart", 800, 1000};
const TestBook kOutageTitle{"9780000000880", "E2E Outage", 650, 1000};
const std::vector<TestBook> kCatalogue{kFirstTitle,  kSecondTitle, kDeclinedTitle, kSoldOutTitle,
                                       kScarceTitle, kSteadyTitle, kRestartTitle,  kOutageTitle};

// A stream of orders: so many buyers, each placing at least kStreamRounds orders and buying on
// while the disruptions go on, up to kStreamMaxRounds.
constexpr int kStreamBuyers = 6;
constexpr int kStreamRounds = 3;
constexpr int kStreamMaxRounds = 40;

// ---- HTTP helpers ------------------------------------------------------------------------

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

/// PUT /api/basket/items/{isbn} of a test title.
HttpResponse set_basket(HttpClient& http, const Shopper& s, const TestBook& book, int quantity) {
  return wonderland::testing::set_basket(http, s, book.isbn, quantity);
}

std::string order_id_of(const HttpResponse& accepted) {
  return accepted.json().value("order_id", "");
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ---- A raw HTTP exchange, for bodies the client library would not send -------------------

struct RawReply {
  int status = 0;
  std::string head;
  std::string body;
};

/// A TCP connection to 127.0.0.1:`port` whose reads and writes give up after `timeout`.
int connect_loopback(int port, timeval timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed");
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  return fd;
}

/// Sends `head` then `body` on a new connection from a writer thread (ignoring write errors: the
/// server may answer and close before reading it all) while reading the response.
RawReply raw_exchange(int port, const std::string& head,
                      const std::function<void(int fd)>& write_body) {
  int fd = connect_loopback(port, timeval{15, 0});
  std::thread writer([fd, head, write_body] {
    if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(head.size()))
      return;
    write_body(fd);
  });
  std::string text;
  char buf[8192];
  RawReply reply;
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    text.append(buf, static_cast<std::size_t>(n));
    auto end = text.find("\r\n\r\n");
    if (end == std::string::npos)
      continue;
    std::string head_lower = lower(text.substr(0, end));
    auto cl = head_lower.find("content-length:");
    if (cl == std::string::npos)
      continue;
    std::size_t length = std::stoul(head_lower.substr(cl + 15));
    if (text.size() >= end + 4 + length)
      break;
  }
  ::shutdown(fd, SHUT_RDWR);
  writer.join();
  ::close(fd);
  auto end = text.find("\r\n\r\n");
  if (text.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) {
    throw std::runtime_error("no HTTP response: '" + text.substr(0, 200) + "'");
  }
  reply.status = std::stoi(text.substr(9, 3));
  reply.head = text.substr(0, end);
  reply.body = text.substr(end + 4);
  return reply;
}

void send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    sent += static_cast<std::size_t>(n);
  }
}

// ---- A server-sent events reader ------------------------------------------------------------

/// Opens `target` as an event stream and collects the `data:` lines of its events.
class EventStreamReader {
 public:
  EventStreamReader(int port, const std::string& target, const std::string& token) {
    fd_ = connect_loopback(port, timeval{0, 100'000});  // short reads: waits end on time
    send_all(fd_, "GET " + target +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
                      "Authorization: Bearer " + token + "\r\n\r\n");
  }
  ~EventStreamReader() { ::close(fd_); }
  EventStreamReader(const EventStreamReader&) = delete;
  EventStreamReader& operator=(const EventStreamReader&) = delete;

  /// The response head, once it arrived (empty before).
  const std::string& head() const { return head_; }

  /// Reads until an event's data satisfies `match` or `timeout` passes; returns that data.
  std::optional<json> await(const std::function<bool(const json&)>& match,
                            std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      while (!events_.empty()) {
        json event = std::move(events_.front());
        events_.erase(events_.begin());
        if (match(event))
          return event;
      }
      if (Clock::now() >= deadline)
        return std::nullopt;
      char buf[8192];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0)
        return std::nullopt;  // closed
      if (n > 0)
        parse(std::string_view(buf, static_cast<std::size_t>(n)));
    }
  }

 private:
  void parse(std::string_view chunk) {
    text_.append(chunk);
    if (head_.empty()) {
      auto end = text_.find("\r\n\r\n");
      if (end == std::string::npos)
        return;
      head_ = text_.substr(0, end);
      text_.erase(0, end + 4);
    }
    // Chunked transfer framing may split lines; events are separated by a blank line, and
    // each event here is one `data:` line of JSON.
    for (auto pos = text_.find("data: "); pos != std::string::npos; pos = text_.find("data: ")) {
      auto eol = text_.find('\n', pos);
      if (eol == std::string::npos)
        break;
      json data = json::parse(text_.substr(pos + 6, eol - pos - 6), nullptr, false);
      if (!data.is_discarded())
        events_.push_back(std::move(data));
      text_.erase(0, eol + 1);
    }
  }

  int fd_ = -1;
  std::string head_;
  std::string text_;
  std::vector<json> events_;
};

// ---- The fixture: one running system for the whole suite ----------------------------------

// ---- Streams of orders under disruption ----------------------------------------------------

/// An order of a stream, and how it ended.
struct Placed {
  std::string order_id;
  json order;
};

/// Something done to the system while orders stream in; says what it did.
using Disruption = std::function<std::string()>;

struct StreamOutcome {
  std::int64_t stock_before = 0;
  std::vector<Placed> placed;
  std::set<std::string> in_flight;     // accepted, not yet settled
  std::vector<std::string> errors;     // requests that did not get through
  std::vector<std::string> disrupted;  // what each disruption said
};

/// What the orders of a stream came to.
struct Tally {
  int confirmed = 0;
  std::int64_t copies = 0;  // books in confirmed orders
  int resent = 0;           // commands the mediator had to send again
};

/// Runs `scripts/infra.sh <command>` on the harness's instances (WONDERLAND_TEST_INFRA).
void infra(const std::string& command) {
  const char* script = std::getenv("WONDERLAND_TEST_INFRA");
  if (script == nullptr)
    throw std::runtime_error("WONDERLAND_TEST_INFRA is not set (run through scripts/test.sh)");
  const std::string line = "'" + std::string(script) + "' " + command + " >&2";
  if (std::system(line.c_str()) != 0)
    throw std::runtime_error("scripts/infra.sh " + command + " failed");
}

/// Retries a call while the answer is transient (5xx, a retryable 409, a dropped connection),
/// for up to 90 s: longer than an outage.
HttpResponse retrying(const std::function<HttpResponse()>& call) {
  auto deadline = Clock::now() + 90s;
  HttpResponse last;
  while (Clock::now() < deadline) {
    try {
      last = call();
      json problem = last.json();
      bool retryable = last.status >= 500 || (last.status == 409 && problem.is_object() &&
                                              problem.value("retryable", false));
      if (!retryable)
        return last;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(250ms);
  }
  return last;
}

/// How many confirmation emails (with the order's invoice attached) the outbox holds, by order.
std::map<std::string, int> invoices_mailed(const fs::path& outbox) {
  std::map<std::string, int> mailed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(outbox, ec)) {
    if (entry.path().extension() != ".eml")
      continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string mail = text.str();
    const std::string mark = "filename=\"invoice-";
    std::set<std::string> in_this_mail;
    for (auto at = mail.find(mark); at != std::string::npos; at = mail.find(mark, at + 1)) {
      auto end = mail.find(".pdf", at);
      if (end != std::string::npos)
        in_this_mail.insert(mail.substr(at + mark.size(), end - at - mark.size()));
    }
    for (const auto& id : in_this_mail)
      ++mailed[id];
  }
  return mailed;
}

class BookstoreE2e : public SystemSuite<BookstoreE2e> {
 protected:
  static void SetUpTestSuite() {
    auto started = Clock::now();
    if (start_system({.work_dir = WONDERLAND_E2E_WORK_DIR,
                      .catalogue = kCatalogue,
                      .admin_token = kAdminToken})) {
      std::cout
          << "[ e2e      ] system up in "
          << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
          << " ms on port " << store_->port() << "\n";
    }
  }

  static void TearDownTestSuite() { stop_system(); }

  std::int64_t stock(const TestBook& book) {
    HttpResponse r = http().get(std::string("/api/books/") + book.isbn);
    if (r.status != 200)
      throw std::runtime_error(std::string("GET /api/books/") + book.isbn + ": " + describe(r));
    return r.json().at("stock").get<std::int64_t>();
  }

  /// kStreamBuyers shoppers buy `book` (at least kStreamRounds orders each, and on while the
  /// plan runs) while `plan` runs: each step once the orders accepted during the one before
  /// have settled and one more was accepted. Every accepted order is awaited until it settles.
  StreamOutcome buy_through(const TestBook& book, const std::string& tag,
                            const std::vector<Disruption>& plan) {
    StreamOutcome out;
    std::vector<Shopper> shoppers;
    for (int i = 0; i < kStreamBuyers; ++i)
      shoppers.push_back(sign_up(http(), tag + std::to_string(i)));
    out.stock_before = stock(book);
    std::mutex mu;
    std::atomic<bool> plan_done{false};
    std::atomic<int> accepted{0};
    std::vector<std::thread> buyers;
    for (int i = 0; i < kStreamBuyers; ++i) {
      buyers.emplace_back([&, i] {
        buy_on(shoppers[static_cast<std::size_t>(i)], book, tag + "-" + std::to_string(i), mu, out,
               accepted, plan_done);
      });
    }
    try {
      std::set<std::string> caught;  // orders in flight when the last disruption ended
      for (const auto& step : plan) {
        // One disruption at a time: the orders it caught settle before the next one begins.
        wonderland::testing::eventually(
            [&] {
              std::lock_guard lock(mu);
              return std::none_of(caught.begin(), caught.end(),
                                  [&](const std::string& id) { return out.in_flight.count(id); });
            },
            150s);
        const int before = accepted;
        wonderland::testing::eventually([&] { return accepted > before; }, 60s);
        std::string what = step();
        std::lock_guard lock(mu);
        caught = out.in_flight;
        out.disrupted.push_back(std::move(what));
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mu);
      out.errors.push_back(std::string("disruption: ") + e.what());
    }
    plan_done = true;
    for (auto& t : buyers)
      t.join();
    return out;
  }

  /// One buyer of a stream: basket, order (same idempotency key on every try), await.
  void buy_on(const Shopper& s, const TestBook& book, const std::string& key_prefix, std::mutex& mu,
              StreamOutcome& out, std::atomic<int>& accepted, const std::atomic<bool>& plan_done) {
    HttpClient client(store().port());
    for (int round = 0; round < kStreamMaxRounds && (round < kStreamRounds || !plan_done);
         ++round) {
      HttpResponse r = retrying([&] { return set_basket(client, s, book, 1 + round % 2); });
      if (r.status != 200) {
        std::lock_guard lock(mu);
        out.errors.push_back("basket: " + describe(r));
        continue;
      }
      const std::string key = key_prefix + "-" + std::to_string(round);
      r = retrying([&] { return place_order(client, s, key, good_visa()); });
      if (r.status != 202) {
        std::lock_guard lock(mu);
        out.errors.push_back("order: " + describe(r));
        continue;
      }
      Placed p{order_id_of(r), json()};
      {
        std::lock_guard lock(mu);
        out.in_flight.insert(p.order_id);
      }
      ++accepted;
      p.order = await_order(client, s, p.order_id, 150s);
      std::lock_guard lock(mu);
      out.in_flight.erase(p.order_id);
      out.placed.push_back(std::move(p));
    }
  }

  /// Every order settled, with at most one charge and one refund, a confirmed one charged its
  /// total and mailed once, a failed one refunded whatever was charged.
  Tally effects_once(const std::vector<Placed>& placed) {
    Tally tally;
    EXPECT_GE(placed.size(), static_cast<std::size_t>(kStreamBuyers * kStreamRounds));
    for (const auto& p : placed) {
      EXPECT_TRUE(settled(p.order)) << p.order_id << " did not settle: " << p.order.dump();
      HttpResponse w = http().get("/api/workflows/" + p.order_id, kAdminToken);
      EXPECT_EQ(w.status, 200) << describe(w);
      for (const auto& record : w.json().value("timeline", json::array()))
        tally.resent += record.value("type", "") == "step_attempt_failed" ? 1 : 0;
      json ledger = store().ledger(p.order_id);
      int charges = 0;
      int refunds = 0;
      for (const auto& e : ledger["entries"]) {
        charges += e.value("kind", "") == "charge" ? 1 : 0;
        refunds += e.value("kind", "") == "refund" ? 1 : 0;
      }
      EXPECT_LE(charges, 1) << ledger.dump();
      EXPECT_LE(refunds, 1) << ledger.dump();
      if (p.order.value("status", "") != "confirmed") {
        EXPECT_EQ(ledger.value("charged_cents", -1), ledger.value("refunded_cents", -2))
            << p.order.dump() << " " << ledger.dump();
        continue;
      }
      ++tally.confirmed;
      for (const auto& line : p.order.value("items", json::array()))
        tally.copies += line.value("quantity", 0);
      EXPECT_EQ(ledger.value("charged_cents", 0), p.order.value("total_cents", -1))
          << ledger.dump();
      EXPECT_EQ(ledger.value("refunded_cents", -1), 0) << ledger.dump();
    }
    expect_mailed_once(placed);
    return tally;
  }

  /// One confirmation email per confirmed order, none for a failed one.
  void expect_mailed_once(const std::vector<Placed>& placed) {
    std::map<std::string, int> mailed;
    wonderland::testing::eventually(
        [&] {
          mailed = invoices_mailed(store().outbox());
          return std::all_of(placed.begin(), placed.end(), [&](const Placed& p) {
            return p.order.value("status", "") != "confirmed" || mailed.count(p.order_id) > 0;
          });
        },
        60s);
    for (const auto& p : placed) {
      const int expected = p.order.value("status", "") == "confirmed" ? 1 : 0;
      EXPECT_EQ(mailed[p.order_id], expected) << p.order_id << " " << p.order.value("status", "");
    }
  }
};

// ---- Tests -------------------------------------------------------------------------------

TEST_F(BookstoreE2e, ServesItsOpenApiDocument) {
  HttpResponse r = http().get("/api/openapi.json");
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.header("content-type").rfind("application/json", 0), 0u) << r.header("content-type");
  json doc = json::parse(r.body, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "not JSON";
  EXPECT_EQ(doc.value("openapi", "").rfind("3.0", 0), 0u) << doc.value("openapi", "");
  for (const char* path :
       {"/api/books", "/api/books/{isbn}", "/api/customers", "/api/sessions", "/api/basket",
        "/api/basket/items/{isbn}", "/api/orders", "/api/orders/{id}", "/api/workflows",
        "/api/workflows/{id}", "/api/workflows/{id}/signals/{name}", "/readyz", "/metrics"}) {
    EXPECT_TRUE(doc["paths"].contains(path)) << "missing path " << path;
  }
  for (const char* schema : {"Book", "Basket", "Order", "Problem"}) {
    EXPECT_TRUE(doc["components"]["schemas"].contains(schema)) << "missing schema " << schema;
  }
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"].value("scheme", ""), "bearer");
  // The served document is the repository's docs/openapi.json.
  std::ifstream in(wonderland::testing::source_dir() + "/docs/openapi.json");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(doc, json::parse(text.str(), nullptr, false));
}

TEST_F(BookstoreE2e, BrowsesTheCatalogue) {
  HttpResponse r = http().get("/api/books?q=e2e&page_size=3");
  ASSERT_EQ(r.status, 200) << describe(r);
  json page = r.json();
  EXPECT_EQ(page.value("total", 0), static_cast<int>(std::size(kCatalogue))) << page.dump();
  EXPECT_EQ(page["items"].size(), 3u) << page.dump();
  EXPECT_EQ(page.value("page_size", 0), 3);

  r = http().get("/api/books?q=" + std::string("Sold%20Out"));
  ASSERT_EQ(r.status, 200) << describe(r);
  ASSERT_EQ(r.json()["items"].size(), 1u) << describe(r);
  EXPECT_EQ(r.json()["items"][0].value("isbn", ""), kSoldOutTitle.isbn);

  r = http().get(std::string("/api/books/") + kFirstTitle.isbn);
  ASSERT_EQ(r.status, 200) << describe(r);
  json book = r.json();
  EXPECT_EQ(book.value("title", ""), kFirstTitle.title);
  EXPECT_EQ(book.value("price_cents", 0), kFirstTitle.price_cents);
  for (const char* field : {"isbn", "title", "author", "publisher", "price_cents", "stock"}) {
    EXPECT_TRUE(book.contains(field)) << field << " missing: " << book.dump();
  }
}

TEST_F(BookstoreE2e, FullPurchaseIsConfirmedChargedAndInvoiced) {
  Shopper alice = sign_up(http(), "alice");
  HttpResponse me = http().get("/api/me", alice.token);
  ASSERT_EQ(me.status, 200) << describe(me);
  EXPECT_EQ(me.json().value("customer_id", ""), alice.customer_id);
  EXPECT_EQ(me.json().value("username", ""), alice.username);
  EXPECT_EQ(me.body.find("password"), std::string::npos) << me.body;
  const std::int64_t first0 = stock(kFirstTitle);
  const std::int64_t second0 = stock(kSecondTitle);

  HttpResponse r = set_basket(http(), alice, kFirstTitle, 2);
  ASSERT_EQ(r.status, 200) << describe(r);
  r = set_basket(http(), alice, kSteadyTitle, 1);  // a second thought...
  ASSERT_EQ(r.status, 200) << describe(r);
  r = http().del(std::string("/api/basket/items/") + kSteadyTitle.isbn,
                 alice.token);  // ...taken back
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.json()["items"].size(), 1u) << describe(r);
  r = set_basket(http(), alice, kSecondTitle, 1);
  ASSERT_EQ(r.status, 200) << describe(r);
  const std::int64_t total = 2 * kFirstTitle.price_cents + kSecondTitle.price_cents;
  EXPECT_EQ(r.json().value("total_cents", 0), total) << describe(r);
  EXPECT_EQ(r.json()["items"].size(), 2u) << describe(r);

  r = place_order(http(), alice, "checkout-" + wonderland::new_uuid(), good_visa());
  ASSERT_EQ(r.status, 202) << describe(r);
  const std::string id = order_id_of(r);
  ASSERT_FALSE(id.empty()) << describe(r);
  EXPECT_EQ(r.header("location"), "/api/orders/" + id);

  json order = await_order(http(), alice, id);
  ASSERT_EQ(order.value("status", ""), "confirmed") << order.dump();
  EXPECT_EQ(order.value("total_cents", 0), total) << order.dump();
  EXPECT_EQ(order["items"].size(), 2u) << order.dump();
  EXPECT_FALSE(order.contains("reason")) << order.dump();

  EXPECT_EQ(stock(kFirstTitle), first0 - 2);
  EXPECT_EQ(stock(kSecondTitle), second0 - 1);

  r = http().get("/api/basket", alice.token);
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_TRUE(r.json()["items"].empty()) << describe(r);
  EXPECT_EQ(r.json().value("total_cents", -1), 0) << describe(r);

  r = http().get("/api/orders", alice.token);
  ASSERT_EQ(r.status, 200) << describe(r);
  bool listed = false;
  const json orders = r.json().value("orders", json::array());
  for (const auto& o : orders) {
    if (o.value("order_id", "") == id) {
      listed = true;
      EXPECT_EQ(o.value("total_cents", 0), total);
      EXPECT_EQ(o.value("status", ""), "confirmed");
    }
  }
  EXPECT_TRUE(listed) << describe(r);

  json ledger = store().ledger(id);
  EXPECT_EQ(ledger.value("charged_cents", 0), total) << ledger.dump();
  EXPECT_EQ(ledger.value("refunded_cents", -1), 0) << ledger.dump();

  // The confirmation email, with the PDF invoice attached, lands in the outbox.
  std::string invoice_mail;
  bool mailed = wonderland::testing::eventually(
      [&] {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(store().outbox(), ec)) {
          if (entry.path().extension() != ".eml")
            continue;
          std::ifstream in(entry.path());
          std::stringstream text;
          text << in.rdbuf();
          if (text.str().find("invoice-" + id + ".pdf") != std::string::npos) {
            invoice_mail = entry.path().string();
            return true;
          }
        }
        return false;
      },
      30s);
  EXPECT_TRUE(mailed) << "no .eml with invoice-" << id << ".pdf in " << store().outbox();

  bool notified = wonderland::testing::eventually(
      [&] {
        HttpResponse n = http().get("/api/me/notifications", alice.token);
        if (n.status != 200)
          return false;
        const json items = n.json().value("notifications", json::array());
        for (const auto& item : items) {
          if (item.value("kind", "") == "order_confirmed" && item.value("order_id", json()) == id)
            return true;
        }
        return false;
      },
      10s);
  EXPECT_TRUE(notified) << describe(http().get("/api/me/notifications", alice.token));
}

TEST_F(BookstoreE2e, DeclinedCardFailsTheOrderAndRestoresStock) {
  Shopper bob = sign_up(http(), "bob");
  const std::int64_t stock0 = stock(kDeclinedTitle);
  HttpResponse r = set_basket(http(), bob, kDeclinedTitle, 2);
  ASSERT_EQ(r.status, 200) << describe(r);

  r = place_order(http(), bob, "checkout-" + wonderland::new_uuid(), declined_visa());
  ASSERT_EQ(r.status, 202) << describe(r);
  const std::string id = order_id_of(r);

  json order = await_order(http(), bob, id);
  ASSERT_EQ(order.value("status", ""), "failed") << order.dump();
  EXPECT_NE(lower(order.value("reason", "")).find("declined"), std::string::npos) << order.dump();

  EXPECT_EQ(stock(kDeclinedTitle), stock0);
  json ledger = store().ledger(id);
  EXPECT_EQ(ledger.value("charged_cents", -1), ledger.value("refunded_cents", -2)) << ledger.dump();

  // Nothing was bought: the basket is still there to try another card.
  r = http().get("/api/basket", bob.token);
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.json()["items"].size(), 1u) << describe(r);
}

TEST_F(BookstoreE2e, OutOfStockFailsBeforeAnyPayment) {
  Shopper carol = sign_up(http(), "carol");
  HttpResponse r = set_basket(http(), carol, kSoldOutTitle, 1);
  ASSERT_EQ(r.status, 200) << describe(r);
  ASSERT_EQ(r.json()["items"].size(), 1u) << describe(r);
  EXPECT_EQ(r.json()["items"][0].value("available", true), false) << describe(r);

  r = place_order(http(), carol, "checkout-" + wonderland::new_uuid(), good_visa());
  ASSERT_EQ(r.status, 202) << describe(r);
  const std::string id = order_id_of(r);

  json order = await_order(http(), carol, id);
  ASSERT_EQ(order.value("status", ""), "failed") << order.dump();
  EXPECT_NE(lower(order.value("reason", "")).find("stock"), std::string::npos) << order.dump();
  EXPECT_EQ(stock(kSoldOutTitle), 0);

  json ledger = store().ledger(id);
  EXPECT_EQ(ledger.value("charged_cents", -1), 0) << ledger.dump();
  EXPECT_TRUE(ledger["entries"].empty()) << ledger.dump();

  // The operator's timeline shows the charge step never started.
  r = http().request("GET", "/api/workflows/" + id, {}, bearer(kAdminToken));
  ASSERT_EQ(r.status, 200) << describe(r);
  const json timeline = r.json().value("timeline", json::array());
  EXPECT_FALSE(timeline.empty()) << describe(r);
  for (const auto& record : timeline) {
    EXPECT_NE(record.value("step", ""), "charge") << record.dump();
  }
}

TEST_F(BookstoreE2e, IdempotencyKeyNamesOneOrderAndOneCharge) {
  Shopper dave = sign_up(http(), "dave");
  const std::int64_t stock0 = stock(kSteadyTitle);
  HttpResponse r = set_basket(http(), dave, kSteadyTitle, 1);
  ASSERT_EQ(r.status, 200) << describe(r);

  const std::string key = "checkout-" + wonderland::new_uuid();
  HttpResponse first = place_order(http(), dave, key, good_visa());
  ASSERT_EQ(first.status, 202) << describe(first);
  HttpResponse again = place_order(http(), dave, key, good_visa());
  ASSERT_EQ(again.status, 202) << describe(again);
  const std::string id = order_id_of(first);
  EXPECT_EQ(order_id_of(again), id);
  EXPECT_EQ(again.header("location"), "/api/orders/" + id);

  json order = await_order(http(), dave, id);
  ASSERT_EQ(order.value("status", ""), "confirmed") << order.dump();

  HttpResponse later = place_order(http(), dave, key, good_visa());
  ASSERT_EQ(later.status, 202) << describe(later);
  EXPECT_EQ(order_id_of(later), id);
  EXPECT_EQ(later.json().value("status", ""), "confirmed") << describe(later);

  // The same key for another request is refused.
  HttpResponse other = place_order(http(), dave, key, good_mastercard());
  expect_problem(other, 422);

  json ledger = store().ledger(id);
  int charges = 0;
  for (const auto& e : ledger["entries"])
    charges += e.value("kind", "") == "charge" ? 1 : 0;
  EXPECT_EQ(charges, 1) << ledger.dump();
  EXPECT_EQ(ledger.value("charged_cents", 0), kSteadyTitle.price_cents) << ledger.dump();
  EXPECT_EQ(stock(kSteadyTitle), stock0 - 1);

  r = http().get("/api/orders", dave.token);
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.json()["orders"].size(), 1u) << describe(r);
}

TEST_F(BookstoreE2e, HundredBuyersShareTenCopies) {
  constexpr int kBuyers = 100;
  ASSERT_EQ(stock(kScarceTitle), 10);
  struct Outcome {
    std::string order_id;
    json order;
    std::string error;
  };
  std::vector<Outcome> outcomes(kBuyers);
  std::latch ready(kBuyers);
  std::vector<std::thread> threads;
  const int port = store().port();
  auto started = Clock::now();
  for (int i = 0; i < kBuyers; ++i) {
    threads.emplace_back([&, i] {
      bool arrived = false;
      try {
        HttpClient client(port);
        Shopper s = sign_up(client, "crowd" + std::to_string(i));
        HttpResponse r = set_basket(client, s, kScarceTitle, 1);
        if (r.status != 200)
          throw std::runtime_error("basket: " + describe(r));
        arrived = true;
        ready.arrive_and_wait();  // everyone checks out at once
        r = place_order(client, s, "crowd-" + wonderland::new_uuid(), good_visa());
        if (r.status != 202)
          throw std::runtime_error("order: " + describe(r));
        outcomes[i].order_id = order_id_of(r);
        outcomes[i].order = await_order(client, s, outcomes[i].order_id, 120s);
      } catch (const std::exception& e) {
        outcomes[i].error = e.what();
        if (!arrived)
          ready.count_down();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  std::cout << "[ e2e      ] " << kBuyers << " buyers settled in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms\n";

  int confirmed = 0;
  int failed = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.error.empty()) << o.error;
    ASSERT_TRUE(settled(o.order)) << o.order_id << " did not settle: " << o.order.dump();
    (o.order.value("status", "") == "confirmed" ? confirmed : failed) += 1;
  }
  EXPECT_EQ(confirmed, 10);
  EXPECT_EQ(failed, kBuyers - 10);
  EXPECT_EQ(stock(kScarceTitle), 0);
  for (const auto& o : outcomes) {
    json ledger = store().ledger(o.order_id);
    if (o.order.value("status", "") == "confirmed") {
      EXPECT_EQ(ledger.value("charged_cents", 0), kScarceTitle.price_cents) << ledger.dump();
      EXPECT_EQ(ledger.value("refunded_cents", -1), 0) << ledger.dump();
    } else {
      EXPECT_EQ(ledger.value("charged_cents", -1), ledger.value("refunded_cents", -2))
          << o.order.dump() << " " << ledger.dump();
    }
  }
}

TEST_F(BookstoreE2e, OrdersSurviveServiceRestartsWithoutDuplicateEffects) {
  // Crash inventory, stop customer gracefully, crash payment, each coming back. Inventory and
  // payment stay down longer than their steps' timeouts (5 s; 10 s for the charge), so the
  // mediator sends those commands again with the same idempotency key while the first copies
  // still wait in the queue: both copies reach the restarted service.
  auto restart = [this](const char* service, bool crash, std::chrono::milliseconds down) {
    return [this, service, crash, down] {
      store().restart(service, crash, down);
      return std::string(service) + (crash ? " (SIGKILL)" : " (SIGTERM)");
    };
  };
  const std::vector<Disruption> plan{
      restart("inventory", true, 6000ms), restart("customer", false, 1000ms),
      restart("payment", true, 11000ms), restart("inventory", false, 300ms),
      restart("payment", false, 300ms)};
  StreamOutcome run = buy_through(kRestartTitle, "restart", plan);
  ASSERT_TRUE(run.errors.empty()) << run.errors.front();
  ASSERT_EQ(run.disrupted.size(), plan.size());
  Tally tally = effects_once(run.placed);
  std::cout << "[ e2e      ] restarted " << run.disrupted.size() << " times; " << tally.confirmed
            << " of " << run.placed.size() << " orders confirmed; " << tally.resent
            << " step attempts failed and were retried\n";
  EXPECT_GT(tally.resent, 0) << "no command was in flight across a restart";
  EXPECT_GT(tally.confirmed, 0);
  EXPECT_EQ(stock(kRestartTitle), run.stock_before - tally.copies);
}

TEST_F(BookstoreE2e, OrdersRideOutThirtySecondDatabaseAndBrokerOutages) {
  // What a failover of PostgreSQL or of the broker takes: each is down for 30 s while orders
  // are in flight. The purchase retries errors that say something could not be reached for up
  // to a minute, so every order waits and then ends as it would have; none fails for it.
  auto outage = [](const char* what) {
    return [what] {
      infra(std::string("stop ") + what);
      std::this_thread::sleep_for(30s);
      infra(std::string("start ") + what);
      return std::string(what) + " down 30 s";
    };
  };
  const std::vector<Disruption> plan{outage("postgres"), outage("rabbitmq")};
  StreamOutcome run = buy_through(kOutageTitle, "outage", plan);
  ASSERT_TRUE(run.errors.empty()) << run.errors.front();
  ASSERT_EQ(run.disrupted.size(), plan.size());
  Tally tally = effects_once(run.placed);
  std::cout << "[ e2e      ] " << run.disrupted.size() << " outages of 30 s; " << tally.confirmed
            << " of " << run.placed.size() << " orders confirmed; " << tally.resent
            << " step attempts failed and were retried\n";
  // Good cards and enough stock: an order that failed, failed for an outage.
  EXPECT_EQ(tally.confirmed, static_cast<int>(run.placed.size()));
  EXPECT_GT(tally.resent, 0) << "no command was in flight across an outage";
  EXPECT_EQ(stock(kOutageTitle), run.stock_before - tally.copies);
}

TEST_F(BookstoreE2e, InvalidRequestsGetClearProblems) {
  const std::map<std::string, std::string> json_type{{"Content-Type", "application/json"}};
  // Not JSON, not an object.
  expect_problem(http().request("POST", "/api/customers", "this is not json", json_type), 400);
  expect_problem(http().request("POST", "/api/sessions", "[1, 2]", json_type), 400);
  // A missing field is named.
  expect_problem(http().post_json("/api/customers", json{{"username", "nobody_here"},
                                                         {"password", kPassword},
                                                         {"first_name", "No"},
                                                         {"last_name", "Email"}}),
                 400, "email");
  expect_problem(http().post_json("/api/sessions", json{{"username", "someone"}}), 400, "password");
  // A wrong type is named.
  expect_problem(http().post_json("/api/customers", json{{"username", 42},
                                                         {"email", "x@example.com"},
                                                         {"password", kPassword},
                                                         {"first_name", "No"},
                                                         {"last_name", "Name"}}),
                 400, "username");
  // Values the customer service refuses come back with their fields too.
  expect_problem(http().post_json("/api/customers", json{{"username", "bad_email_user"},
                                                         {"email", "not-an-address"},
                                                         {"password", kPassword},
                                                         {"first_name", "Bad"},
                                                         {"last_name", "Email"}}),
                 400, "email");
  expect_problem(http().get("/api/books?page=0"), 400, "page");
  expect_problem(http().get("/api/books/12345"), 404);
  expect_problem(http().get("/api/books/9780000000000"), 404);

  // Sign-up conflicts and bad credentials.
  Shopper erin = sign_up(http(), "erin");
  expect_problem(http().post_json("/api/customers", json{{"username", erin.username},
                                                         {"email", "other-" + erin.email},
                                                         {"password", kPassword},
                                                         {"first_name", "Erin"},
                                                         {"last_name", "Again"}}),
                 409);
  expect_problem(http().post_json("/api/sessions", json{{"username", erin.username},
                                                        {"password", "wrong password"}}),
                 401);
  expect_problem(http().post_json("/api/sessions",
                                  json{{"username", "no_such_user_e2e"}, {"password", kPassword}}),
                 401);

  // Unknown routes and methods.
  expect_problem(http().get("/api/no-such-route"), 404);
  expect_problem(http().request("POST", "/api/no-such-route", "{}", json_type), 404);
  HttpResponse r = http().request("DELETE", "/api/books");
  expect_problem(r, 405);
  EXPECT_NE(r.header("allow").find("GET"), std::string::npos) << r.header("allow");
  expect_problem(http().request("PATCH", "/api/orders", "{}", json_type), 405);

  // Bodies over 1 MiB: with a Content-Length (refused before reading) and chunked.
  const std::string big(1100 * 1024, 'x');
  RawReply raw = raw_exchange(
      store().port(),
      "POST /api/customers HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
          std::to_string(big.size()) + "\r\n\r\n",
      [&big](int fd) { send_all(fd, big); });
  EXPECT_EQ(raw.status, 413) << raw.head;
  EXPECT_NE(lower(raw.head).find("application/problem+json"), std::string::npos) << raw.head;
  raw = raw_exchange(
      store().port(),
      "POST /api/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n",
      [](int fd) {
        const std::string chunk(64 * 1024, 'y');
        for (int i = 0; i < 20; ++i)
          send_all(fd, "10000\r\n" + chunk + "\r\n");
        send_all(fd, "0\r\n\r\n");
      });
  EXPECT_EQ(raw.status, 413) << raw.head;
  EXPECT_NE(lower(raw.head).find("application/problem+json"), std::string::npos) << raw.head;

  // Customer routes without a token, or with a bad one.
  for (const std::string& token : {std::string(), std::string("not-a-real-token")}) {
    SCOPED_TRACE(token.empty() ? "no token" : "bad token");
    r = http().get("/api/me", token);
    expect_problem(r, 401);
    EXPECT_EQ(lower(r.header("www-authenticate")).rfind("bearer", 0), 0u)
        << r.header("www-authenticate");
    expect_problem(http().get("/api/basket", token), 401);
    expect_problem(http().put_json(std::string("/api/basket/items/") + kSteadyTitle.isbn,
                                   json{{"quantity", 1}}, token),
                   401);
    expect_problem(http().post_json("/api/orders", json{{"payment", good_visa()}}, token,
                                    {{"Idempotency-Key", "k-1"}}),
                   401);
    expect_problem(http().get("/api/orders", token), 401);
    expect_problem(http().get("/api/orders/" + wonderland::new_uuid(), token), 401);
    expect_problem(http().get("/api/me/notifications", token), 401);
  }
  expect_problem(http().del("/api/sessions/current"), 401);

  // Basket input.
  expect_problem(http().put_json(std::string("/api/basket/items/") + kSteadyTitle.isbn,
                                 json{{"quantity", "two"}}, erin.token),
                 400, "quantity");
  expect_problem(http().put_json(std::string("/api/basket/items/") + kSteadyTitle.isbn,
                                 json{{"quantity", 4}}, erin.token),
                 400, "quantity");
  expect_problem(http().put_json(std::string("/api/basket/items/") + kSteadyTitle.isbn,
                                 json::object(), erin.token),
                 400, "quantity");
  expect_problem(
      http().request(
          "PUT", std::string("/api/basket/items/") + kSteadyTitle.isbn, "{oops",
          {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + erin.token}}),
      400);
  expect_problem(
      http().put_json("/api/basket/items/not-an-isbn", json{{"quantity", 1}}, erin.token), 400,
      "isbn");
  expect_problem(
      http().put_json("/api/basket/items/9780000000000", json{{"quantity", 1}}, erin.token), 404);

  // Order input.
  expect_problem(http().post_json("/api/orders", json{{"payment", good_visa()}}, erin.token), 400,
                 "Idempotency-Key");
  expect_problem(
      http().post_json("/api/orders", json::object(), erin.token, {{"Idempotency-Key", "k-2"}}),
      400, "payment");
  expect_problem(http().post_json("/api/orders", json{{"payment", "visa"}}, erin.token,
                                  {{"Idempotency-Key", "k-3"}}),
                 400, "payment");
  expect_problem(
      http().post_json("/api/orders", json{{"payment", json{{"card_number", "4242424242424242"}}}},
                       erin.token, {{"Idempotency-Key", "k-4"}}),
      400, "payment.method");
  expect_problem(
      http().post_json("/api/orders", json{{"payment", card("visa", "4242 4242 4242 4241")}},
                       erin.token, {{"Idempotency-Key", "k-5"}}),
      400, "payment.card_number");
  expect_problem(http().request("POST", "/api/orders", "nope",
                                {{"Content-Type", "application/json"},
                                 {"Authorization", "Bearer " + erin.token},
                                 {"Idempotency-Key", "k-6"}}),
                 400);

  // Another customer's order is not even acknowledged; neither is an unknown one.
  Shopper frank = sign_up(http(), "frank");
  r = set_basket(http(), frank, kSteadyTitle, 1);
  ASSERT_EQ(r.status, 200) << describe(r);
  r = place_order(http(), frank, "checkout-" + wonderland::new_uuid(), good_visa());
  ASSERT_EQ(r.status, 202) << describe(r);
  const std::string franks = order_id_of(r);
  expect_problem(http().get("/api/orders/" + franks, erin.token), 404);
  expect_problem(http().get("/api/orders/" + franks + "?wait_ms=1000", erin.token), 404);
  expect_problem(http().get("/api/orders/" + wonderland::new_uuid(), erin.token), 404);
  for (const char* wait : {"?wait_ms=soon", "?wait_ms=-1", "?wait_ms=30001"}) {
    expect_problem(http().get("/api/orders/" + franks + wait, frank.token), 400, "wait_ms");
  }
  // A long poll answers with the order's end, not with `pending`.
  r = http().get("/api/orders/" + franks + "?wait_ms=20000", frank.token);
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.json().value("status", ""), "confirmed") << describe(r);

  // Operator routes: 401 without a token, 403 with a customer's, 200 with the admin token.
  for (const char* path : {"/api/workflows", "/api/definitions", "/api/metrics", "/metrics"}) {
    SCOPED_TRACE(path);
    expect_problem(http().get(path), 401);
    expect_problem(http().get(path, erin.token), 403);
    EXPECT_EQ(http().get(path, kAdminToken).status, 200);
  }
  expect_problem(http().get("/api/workflows/" + franks, erin.token), 403);
  expect_problem(
      http().request("POST", "/api/workflows/" + franks + "/retry", {}, bearer(erin.token)), 403);
  expect_problem(http().request("POST", "/api/workflows/" + franks + "/cancel"), 401);
  expect_problem(http().get("/api/workflows?status=bogus", kAdminToken), 400, "status");
  EXPECT_EQ(http().get("/api/definitions/purchase/1", kAdminToken).status, 200);
  expect_problem(http().get("/api/definitions/purchase/1abc", kAdminToken), 404);
  expect_problem(http().get("/api/definitions/purchase/99", kAdminToken), 404);

  // Signing out ends the session.
  EXPECT_EQ(http().del("/api/sessions/current", frank.token).status, 204);
  expect_problem(http().get("/api/me", frank.token), 401);
}

TEST_F(BookstoreE2e, OperatorsSearchAndFollowTheLogs) {
  // Operators only, and the filters are checked.
  Shopper grace = sign_up(http(), "grace");
  expect_problem(http().get("/api/logs"), 401);
  expect_problem(http().get("/api/logs", grace.token), 403);
  expect_problem(http().get("/api/logs/stream", grace.token), 403);
  expect_problem(http().get("/api/logs?level=loud", kAdminToken), 400, "level");
  expect_problem(http().get("/api/logs?since=yesterday", kAdminToken), 400, "since");
  expect_problem(http().get("/api/logs?limit=0", kAdminToken), 400, "limit");

  // The live feed is open before the purchase, so every line of it comes through.
  EventStreamReader live(store().port(), "/api/logs/stream?level=info", kAdminToken);
  HttpResponse r = set_basket(http(), grace, kSteadyTitle, 1);
  ASSERT_EQ(r.status, 200) << describe(r);
  r = place_order(http(), grace, "checkout-" + wonderland::new_uuid(), good_mastercard());
  ASSERT_EQ(r.status, 202) << describe(r);
  const std::string id = order_id_of(r);
  ASSERT_EQ(await_order(http(), grace, id).value("status", ""), "confirmed");

  // Generous: the suite's previous test may just have restarted the broker, and every process
  // and the logging service's two connections reconnect on their own back-off (up to 6 s).
  const auto confirmed_at = std::chrono::steady_clock::now();
  auto line =
      live.await([&](const json& record) { return record.value("correlation_id", "") == id; }, 30s);
  ASSERT_TRUE(line.has_value()) << "no live log line for order " << id << "; head: " << live.head();
  std::cout << "[ e2e      ] first live log line of the order "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - confirmed_at)
                   .count()
            << " ms after it was confirmed\n";
  EXPECT_NE(live.head().find("text/event-stream"), std::string::npos) << live.head();
  EXPECT_FALSE(line->value("service", "").empty()) << line->dump();
  EXPECT_FALSE(line->value("timestamp", "").empty()) << line->dump();

  // The stored lines of the order: several services, newest first, nothing secret.
  json records;
  std::set<std::string> services;
  bool found = wonderland::testing::eventually(
      [&] {
        HttpResponse logs =
            http().get("/api/logs?correlation_id=" + id + "&limit=500", kAdminToken);
        if (logs.status != 200)
          return false;
        records = logs.json().value("records", json::array());
        services.clear();
        for (const auto& rec : records)
          services.insert(rec.value("service", ""));
        return services.count("mediator") == 1 && services.size() >= 3;
      },
      15s);
  ASSERT_TRUE(found) << "services seen: " << services.size() << " "
                     << records.dump().substr(0, 2000);
  for (std::size_t i = 1; i < records.size(); ++i) {
    EXPECT_GE(records[i - 1].value("timestamp", ""), records[i].value("timestamp", ""))
        << "not newest first";
  }
  const std::string dump = records.dump();
  EXPECT_EQ(dump.find("5555555555554444"), std::string::npos) << "a card number in the logs";
  EXPECT_EQ(dump.find("5555 5555 5555 4444"), std::string::npos) << "a card number in the logs";
  EXPECT_EQ(dump.find(kPassword), std::string::npos) << "a password in the logs";

  // Filters narrow: one service, a text, a time range that excludes everything.
  r = http().get("/api/logs?service=mediator&correlation_id=" + id, kAdminToken);
  ASSERT_EQ(r.status, 200) << describe(r);
  for (const auto& rec : r.json().value("records", json::array()))
    EXPECT_EQ(rec.value("service", ""), "mediator");
  r = http().get("/api/logs?correlation_id=" + id + "&until=2000-01-01T00:00:00Z", kAdminToken);
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_TRUE(r.json().value("records", json::array()).empty()) << describe(r);
}

}  // namespace
