// End to end: no card data at rest. Buys with every test card and PayPal through the real
// system, lets every order settle, then reads back everything the system wrote (the journal,
// every SQLite database and WAL, the log store's CSV files, the email outbox, the service logs,
// the customer tables in PostgreSQL, the dead-letter queues) and the operator API's view of each
// order: no full card number (with or without spaces), no CVV, no expiry, no PayPal address,
// no admin token.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/postgres.hpp"
#include "wonderland/testing/system.hpp"
#include "wonderland/testing/system_suite.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using wonderland::testing::HttpResponse;
using wonderland::testing::SystemSuite;
using Clock = std::chrono::steady_clock;

constexpr char kAdminToken[] = "card-scan-operator-7f3a9c21e5d84b60";
constexpr char kPassword[] = "correct horse battery";
const wonderland::testing::CatalogueBook kBook{"9780000009012", "Card Scan Title", 1890, 100};

/// A card expiry a few years ahead ("12/29"), valid whatever today's date.
std::string future_expiry() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  int yy = (utc.tm_year + 1900 + 4) % 100;
  return std::string("11/") + (yy < 10 ? "0" : "") + std::to_string(yy);
}

struct Purchase {
  std::string name;
  json payment;
  std::string number;  ///< spaced, as typed; empty for PayPal
  std::string cvv;
  std::string expected_status;
  std::string expected_reason;
  std::string order_id;
  std::string token;  ///< the shopper's session
};

std::string without_spaces(std::string s) {
  std::erase(s, ' ');
  return s;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Every file under `dir`, by path.
std::map<std::string, std::string> files_under(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e :
       fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied)) {
    if (e.is_regular_file())
      out[e.path().string()] = file_bytes(e.path());
  }
  return out;
}

/// Every row of every table of `schema`, as PostgreSQL's text form of the row.
std::string dump_schema(const std::string& schema) {
  pqxx::connection conn(wonderland::testing::pg_url());
  pqxx::work tx(conn);
  std::string all;
  for (const auto& t : tx.exec_params(
           "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)) {
    const std::string table =
        conn.quote_name(schema) + "." + conn.quote_name(t[0].as<std::string>());
    for (const auto& row : tx.exec("SELECT t::text FROM " + table + " t"))
      all += row[0].c_str() + std::string("\n");
  }
  return all;
}

class CardDataE2e : public SystemSuite<CardDataE2e> {
 protected:
  static void SetUpTestSuite() {
    start_system({.work_dir = WONDERLAND_E2E_WORK_DIR,
                  .catalogue = {kBook},
                  .admin_token = kAdminToken,
                  .tag = "cardscan"});
  }

  static void TearDownTestSuite() { stop_system(); }

  /// Signs a new customer up and in; returns the session token.
  std::string sign_up(const std::string& tag) {
    const std::string user = "scan_" + tag + "_" + wonderland::fast_random_hex(4);
    HttpResponse r = http().post_json("/api/customers", json{{"username", user},
                                                             {"email", user + "@example.com"},
                                                             {"password", kPassword},
                                                             {"first_name", "Card"},
                                                             {"last_name", "Scan"}});
    if (r.status != 201)
      throw std::runtime_error("sign-up: " + describe(r));
    r = http().post_json("/api/sessions", json{{"username", user}, {"password", kPassword}});
    if (r.status != 201)
      throw std::runtime_error("sign-in: " + describe(r));
    return r.json().value("token", "");
  }

  /// Long-polls the order until it is confirmed or failed (or a minute passes).
  json await_order(const Purchase& p) {
    auto deadline = Clock::now() + 60s;
    json last;
    while (Clock::now() < deadline) {
      HttpResponse r = http().get("/api/orders/" + p.order_id + "?wait_ms=5000", p.token);
      if (r.status != 200)
        throw std::runtime_error("GET order: " + describe(r));
      last = r.json();
      const std::string s = last.value("status", "");
      if (s == "confirmed" || s == "failed")
        return last;
    }
    return last;
  }
};

TEST_F(CardDataE2e, NoCardDataIsWrittenAnywhere) {
  const std::string expiry = future_expiry();
  auto card = [&](const char* method, const char* number, const char* cvv) {
    return json{{"method", method}, {"card_number", number}, {"expiry", expiry}, {"cvv", cvv}};
  };
  const std::string paypal_email = "wallet." + wonderland::fast_random_hex(4) + "@example.com";
  std::vector<Purchase> purchases{
      {"visa", card("visa", "4242 4242 4242 4242", "731"), "4242 4242 4242 4242", "731",
       "confirmed", ""},
      {"mastercard", card("mastercard", "5555 5555 5555 4444", "852"), "5555 5555 5555 4444", "852",
       "confirmed", ""},
      {"declined", card("visa", "4000 0000 0000 0002", "963"), "4000 0000 0000 0002", "963",
       "failed", "Your card was declined"},
      {"insufficient", card("visa", "4000 0000 0000 9995", "174"), "4000 0000 0000 9995", "174",
       "failed", "Insufficient funds"},
      {"paypal", json{{"method", "paypal"}, {"paypal_email", paypal_email}}, "", "", "confirmed",
       ""},
  };

  for (auto& p : purchases) {
    p.token = sign_up(p.name);
    HttpResponse r = http().put_json(std::string("/api/basket/items/") + kBook.isbn,
                                     json{{"quantity", 1}}, p.token);
    ASSERT_EQ(r.status, 200) << describe(r);
    const std::string key = wonderland::new_uuid();
    r = http().post_json("/api/orders", json{{"payment", p.payment}}, p.token,
                         {{"Idempotency-Key", key}});
    ASSERT_EQ(r.status, 202) << p.name << ": " << describe(r);
    p.order_id = r.json().value("order_id", "");
    // The same request again names the same order (the keyed fingerprint matches); another
    // payment under the same key is refused.
    HttpResponse again = http().post_json("/api/orders", json{{"payment", p.payment}}, p.token,
                                          {{"Idempotency-Key", key}});
    ASSERT_EQ(again.status, 202) << describe(again);
    EXPECT_EQ(again.json().value("order_id", ""), p.order_id);
    json other = p.payment;
    if (other["method"] == "paypal") {
      other["paypal_email"] = "other@example.com";
    } else {
      other["cvv"] = "000";
    }
    HttpResponse conflict = http().post_json("/api/orders", json{{"payment", other}}, p.token,
                                             {{"Idempotency-Key", key}});
    EXPECT_EQ(conflict.status, 422) << describe(conflict);
  }
  // An unknown key in the payment object is named, and nothing is ordered.
  {
    json extra = purchases[0].payment;
    extra["nested"] = json::array({json::array({json::array()})});
    HttpResponse r = http().post_json("/api/orders", json{{"payment", extra}}, purchases[0].token,
                                      {{"Idempotency-Key", wonderland::new_uuid()}});
    EXPECT_EQ(r.status, 400) << describe(r);
    EXPECT_NE(r.body.find("payment.nested"), std::string::npos) << describe(r);
  }

  // Every order settles as its card says: the scan below is not of an empty system.
  for (auto& p : purchases) {
    json order = await_order(p);
    EXPECT_EQ(order.value("status", ""), p.expected_status) << p.name << ": " << order.dump();
    if (!p.expected_reason.empty()) {
      EXPECT_EQ(order.value("reason", ""), p.expected_reason) << p.name;
    }
    json ledger = store().ledger(p.order_id);
    EXPECT_EQ(ledger["charged_cents"], p.expected_status == "confirmed" ? kBook.price_cents : 0)
        << p.name;
  }

  // What must be nowhere: full numbers (as typed and as digits), the CVVs as JSON strings and
  // values, the expiry, the PayPal address and the admin token.
  std::vector<std::string> secrets{kAdminToken, paypal_email, expiry};
  for (const auto& p : purchases) {
    if (p.number.empty())
      continue;
    secrets.push_back(p.number);
    secrets.push_back(without_spaces(p.number));
    secrets.push_back("\"" + p.cvv + "\"");
    secrets.push_back("cvv\":\"" + p.cvv);
  }
  auto scan = [&](const std::string& where, const std::string& bytes) {
    for (const auto& s : secrets) {
      EXPECT_EQ(bytes.find(s), std::string::npos) << "'" << s << "' found in " << where;
    }
  };

  // The operator API's view of every order, with the request and reply bodies of each step.
  for (const auto& p : purchases) {
    HttpResponse r = http().get("/api/workflows/" + p.order_id, kAdminToken);
    ASSERT_EQ(r.status, 200) << describe(r);
    EXPECT_NE(
        r.body.find(p.number.empty() ? "***@example.com" : "**** **** **** " + p.number.substr(15)),
        std::string::npos)
        << p.name << ": the masked form should be shown: " << describe(r);
    scan("GET /api/workflows/" + p.order_id, r.body);
  }

  // The logs reach the log store asynchronously: wait until every order is in it.
  const fs::path log_store = store().dir() / "log-store";
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] {
        if (!fs::exists(log_store))
          return false;
        std::string all;
        for (const auto& [path, bytes] : files_under(log_store))
          all += bytes;
        for (const auto& p : purchases) {
          if (all.find(p.order_id) == std::string::npos)
            return false;
        }
        return true;
      },
      30s))
      << "the orders' logs never reached " << log_store;

  // The dead-letter queues of the run (read before stop() deletes them).
  {
    wonderland::messaging::Connection conn(wonderland::messaging::ConnectionOptions{
        .url = wonderland::testing::amqp_url(), .service = "card-scan"});
    std::size_t dead = 0;
    for (const auto& q : store().queues()) {
      try {
        while (auto m = conn.get(wonderland::messaging::QueueName{q + ".dead"}, 5s)) {
          ++dead;
          scan(q + ".dead", m->body);
        }
      } catch (const std::exception&) {
        // No such dead-letter queue: nothing was dead-lettered there.
      }
    }
    std::cout << "[ scan     ] " << dead << " dead letter(s) read\n";
  }

  // The customer service's tables in PostgreSQL.
  const std::string rows = dump_schema(store().customer_schema());
  EXPECT_NE(rows.find(purchases[0].order_id), std::string::npos)
      << "the customer tables should hold the orders";
  scan("PostgreSQL schema " + store().customer_schema(), rows);

  // Every file of the run while it runs (the SQLite WAL files are there), then again once every
  // process has stopped (and checkpointed).
  auto scan_files = [&](const char* when) {
    auto files = files_under(store().dir());
    bool journal = false;
    bool payment_db = false;
    for (const auto& [path, bytes] : files) {
      journal = journal || path.ends_with("journal.db");
      payment_db = payment_db || path.ends_with("payment.db");
      scan(path + " (" + when + ")", bytes);
    }
    EXPECT_TRUE(journal && payment_db)
        << "the run's folder should hold the journal and the payment database";
    std::cout << "[ scan     ] " << files.size() << " file(s) " << when << "\n";
  };
  scan_files("while running");
  store().stop();
  scan_files("after stopping");
}

}  // namespace
