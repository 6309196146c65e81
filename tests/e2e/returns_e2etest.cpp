// End-to-end tests of bookstore returns: the real binaries against the harness's RabbitMQ and
// PostgreSQL, driven over HTTP. A customer buys, asks to return some lines, and the `return`
// workflow waits for the parcel (the operator's parcel_received signal, or its deadline, 15 s
// here through WONDERLAND_RETURN_PARCEL_TIMEOUT_MS), then restocks and refunds each line or
// closes the return. Stock, the payment ledger and the emails are checked at the end of each;
// the happy path kills the mediator (SIGKILL) while the return waits for its parcel.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/shopping.hpp"
#include "wonderland/testing/system.hpp"
#include "wonderland/testing/system_suite.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using wonderland::testing::await_order;
using wonderland::testing::expect_problem;
using wonderland::testing::good_visa;
using wonderland::testing::HttpClient;
using wonderland::testing::HttpResponse;
using wonderland::testing::place_order;
using wonderland::testing::set_basket;
using wonderland::testing::Shopper;
using wonderland::testing::sign_up;
using wonderland::testing::SystemSuite;
using Clock = std::chrono::steady_clock;

constexpr char kAdminToken[] = "returns-operator-token-5d1e";
constexpr auto kParcelTimeout = 15s;

using TestBook = wonderland::testing::CatalogueBook;
const TestBook kNovel{"9780000001115", "Returns Novel", 1500, 100};
const TestBook kAtlas{"9780000001221", "Returns Atlas", 4200, 100};
const TestBook kPoems{"9780000001337", "Returns Poems", 800, 100};
const std::vector<TestBook> kCatalogue{kNovel, kAtlas, kPoems};

/// How many emails in the outbox contain `text` (an attachment's file name, a return id).
int mails_with(const fs::path& outbox, const std::string& text) {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(outbox, ec)) {
    if (entry.path().extension() != ".eml")
      continue;
    std::ifstream in(entry.path());
    std::stringstream body;
    body << in.rdbuf();
    count += body.str().find(text) != std::string::npos ? 1 : 0;
  }
  return count;
}

class ReturnsE2e : public SystemSuite<ReturnsE2e> {
 protected:
  static void SetUpTestSuite() {
    start_system(
        {.work_dir = WONDERLAND_E2E_WORK_DIR,
         .catalogue = kCatalogue,
         .admin_token = kAdminToken,
         .tag = "returns",
         .env = {{"mediator",
                  {{"WONDERLAND_RETURN_PARCEL_TIMEOUT_MS",
                    std::to_string(std::chrono::milliseconds(kParcelTimeout).count())}}}}});
  }
  static void TearDownTestSuite() { stop_system(); }

  std::int64_t stock(const TestBook& book) {
    HttpResponse r = http().get(std::string("/api/books/") + book.isbn);
    if (r.status != 200)
      throw std::runtime_error(std::string("GET /api/books/") + book.isbn + ": " + describe(r));
    return r.json().at("stock").get<std::int64_t>();
  }

  /// A confirmed order of `lines` ({book, quantity}) by `s`; returns its id.
  std::string buy(const Shopper& s, const std::vector<std::pair<TestBook, int>>& lines) {
    for (const auto& [book, quantity] : lines) {
      HttpResponse r = set_basket(http(), s, book.isbn, quantity);
      if (r.status != 200)
        throw std::runtime_error("basket: " + describe(r));
    }
    HttpResponse r = place_order(http(), s, "checkout-" + wonderland::new_uuid(), good_visa());
    if (r.status != 202)
      throw std::runtime_error("order: " + describe(r));
    const std::string id = r.json().value("order_id", "");
    json order = await_order(http(), s, id);
    if (order.value("status", "") != "confirmed")
      throw std::runtime_error("order " + id + " not confirmed: " + order.dump());
    return id;
  }

  HttpResponse ask_return(const Shopper& s, const std::string& order_id, const json& lines) {
    return http().post_json("/api/orders/" + order_id + "/returns", json{{"lines", lines}},
                            s.token);
  }

  HttpResponse signal_parcel(const std::string& return_id, const std::string& signal_id) {
    return http().post_json("/api/workflows/" + return_id + "/signals/parcel_received",
                            json{{"signal_id", signal_id}, {"payload", {{"by", "warehouse"}}}},
                            kAdminToken);
  }

  /// GET /api/returns/{id} until its status is one of `ends` (or 60 s pass); the last view.
  json await_return(const Shopper& s, const std::string& id, std::vector<std::string> ends) {
    json last;
    wonderland::testing::eventually(
        [&] {
          HttpResponse r = http().get("/api/returns/" + id, s.token);
          if (r.status != 200)
            return false;
          last = r.json();
          return std::find(ends.begin(), ends.end(), last.value("status", "")) != ends.end();
        },
        60s);
    return last;
  }

  /// The customer service's view of the order's returns (GET /api/orders/{id}/returns).
  json listed_returns(const Shopper& s, const std::string& order_id) {
    HttpResponse r = http().get("/api/orders/" + order_id + "/returns", s.token);
    EXPECT_EQ(r.status, 200) << describe(r);
    return r.json().value("returns", json::array());
  }

  /// The kinds of the notifications sent to `s` about `return_id`.
  std::vector<std::string> notified(const Shopper& s, const std::string& return_id) {
    std::vector<std::string> kinds;
    HttpResponse n = http().get("/api/me/notifications", s.token);
    if (n.status != 200)
      return kinds;
    for (const auto& item : n.json().value("notifications", json::array())) {
      if (item.dump().find(return_id) != std::string::npos)
        kinds.push_back(item.value("kind", ""));
    }
    std::sort(kinds.begin(), kinds.end());
    return kinds;
  }
};

TEST_F(ReturnsE2e, AReceivedParcelRestocksRefundsAndSendsACreditNoteOnce) {
  Shopper alice = sign_up(http(), "ret_alice");
  const std::string order = buy(alice, {{kNovel, 2}, {kAtlas, 1}, {kPoems, 1}});
  const std::int64_t novel0 = stock(kNovel);
  const std::int64_t atlas0 = stock(kAtlas);
  const std::int64_t poems0 = stock(kPoems);
  const json lines = json::array(
      {{{"isbn", kNovel.isbn}, {"quantity", 1}}, {{"isbn", kAtlas.isbn}, {"quantity", 1}}});

  HttpResponse r = ask_return(alice, order, lines);
  ASSERT_EQ(r.status, 202) << describe(r);
  const std::string id = r.json().value("return_id", "");
  ASSERT_TRUE(wonderland::is_uuid(id)) << describe(r);
  EXPECT_EQ(r.header("location"), "/api/returns/" + id);
  EXPECT_EQ(r.json().value("status", ""), "awaiting_parcel") << describe(r);
  const std::int64_t refund = kNovel.price_cents + kAtlas.price_cents;
  EXPECT_EQ(r.json().value("refund_cents", 0), refund) << describe(r);

  // The same request again names the same return (a retry after a lost answer).
  HttpResponse again = ask_return(alice, order, lines);
  ASSERT_EQ(again.status, 202) << describe(again);
  EXPECT_EQ(again.json().value("return_id", ""), id);

  // Recorded by the customer service, and the customer is told where to send the parcel.
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] {
        json listed = listed_returns(alice, order);
        return listed.size() == 1 && listed[0].value("status", "") == "awaiting_parcel";
      },
      30s))
      << listed_returns(alice, order).dump();
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] { return notified(alice, id) == std::vector<std::string>{"return_requested"}; }, 30s))
      << describe(http().get("/api/me/notifications", alice.token));

  // The mediator is killed while the return waits for its parcel; the one started again takes
  // the return over from its journal.
  store().restart("mediator", /*crash=*/true);

  // The warehouse's scanner sends the signal twice (at least once); the second is a resend.
  const std::string signal_id = wonderland::new_uuid();
  HttpResponse s1 = signal_parcel(id, signal_id);
  EXPECT_EQ(s1.status, 202) << describe(s1);
  json done = await_return(alice, id, {"refunded", "failed", "expired"});
  ASSERT_EQ(done.value("status", ""), "refunded") << done.dump();
  HttpResponse s2 = signal_parcel(id, signal_id);
  EXPECT_EQ(s2.status, 202) << "a resent signal is acknowledged again: " << describe(s2);
  // A different signal after the end is refused.
  expect_problem(signal_parcel(id, wonderland::new_uuid()), 409);

  EXPECT_EQ(done.value("refund_cents", 0), refund) << done.dump();
  EXPECT_EQ(stock(kNovel), novel0 + 1);
  EXPECT_EQ(stock(kAtlas), atlas0 + 1);
  EXPECT_EQ(stock(kPoems), poems0);
  json ledger = store().ledger(order);
  EXPECT_EQ(ledger.value("charged_cents", 0),
            2 * kNovel.price_cents + kAtlas.price_cents + kPoems.price_cents)
      << ledger.dump();
  EXPECT_EQ(ledger.value("refunded_cents", -1), refund) << ledger.dump();
  json listed = listed_returns(alice, order);
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0].value("status", ""), "refunded") << listed.dump();

  // One credit note, attached to one email, whatever was resent.
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] { return mails_with(store().outbox(), "credit-note-" + id + ".pdf") >= 1; }, 30s))
      << "no credit note for " << id << " in " << store().outbox();
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] {
        return notified(alice, id) ==
               std::vector<std::string>{"return_refunded", "return_requested"};
      },
      30s))
      << describe(http().get("/api/me/notifications", alice.token));
  std::this_thread::sleep_for(1s);  // time for a duplicate to show, if there were one
  EXPECT_EQ(mails_with(store().outbox(), "credit-note-" + id + ".pdf"), 1);

  // The journal took one signal, and every step ran once.
  HttpResponse w = http().get("/api/workflows/" + id, kAdminToken);
  ASSERT_EQ(w.status, 200) << describe(w);
  int signals = 0;
  for (const auto& record : w.json().value("timeline", json::array()))
    signals += record.value("type", "") == "signal_received" ? 1 : 0;
  EXPECT_EQ(signals, 1);

  // The returned lines cannot be returned again; the line kept can.
  expect_problem(ask_return(alice, order, json::array({{{"isbn", kNovel.isbn}, {"quantity", 1}}})),
                 409);
  HttpResponse poems =
      ask_return(alice, order, json::array({{{"isbn", kPoems.isbn}, {"quantity", 1}}}));
  EXPECT_EQ(poems.status, 202) << describe(poems);
}

TEST_F(ReturnsE2e, AParcelThatNeverArrivesClosesTheReturnWithoutARefund) {
  Shopper bob = sign_up(http(), "ret_bob");
  const std::string order = buy(bob, {{kAtlas, 1}});
  const std::int64_t atlas0 = stock(kAtlas);
  HttpResponse r = ask_return(bob, order, json::array({{{"isbn", kAtlas.isbn}, {"quantity", 1}}}));
  ASSERT_EQ(r.status, 202) << describe(r);
  const std::string id = r.json().value("return_id", "");
  const auto asked = Clock::now();

  json done = await_return(bob, id, {"refunded", "failed", "expired"});
  ASSERT_EQ(done.value("status", ""), "expired") << done.dump();
  EXPECT_GE(Clock::now() - asked, kParcelTimeout - 1s) << "closed before its deadline";
  EXPECT_EQ(stock(kAtlas), atlas0);
  json ledger = store().ledger(order);
  EXPECT_EQ(ledger.value("refunded_cents", -1), 0) << ledger.dump();
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] {
        json listed = listed_returns(bob, order);
        return listed.size() == 1 && listed[0].value("status", "") == "expired";
      },
      30s))
      << listed_returns(bob, order).dump();
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] {
        return notified(bob, id) == std::vector<std::string>{"return_expired", "return_requested"};
      },
      30s))
      << describe(http().get("/api/me/notifications", bob.token));
  EXPECT_EQ(mails_with(store().outbox(), "credit-note-" + id + ".pdf"), 0);
  // A parcel that turns up after the deadline is refused: the return is closed.
  expect_problem(signal_parcel(id, wonderland::new_uuid()), 409);
}

TEST_F(ReturnsE2e, ReturnsOfMoreThanWasBoughtOrOfAnotherCustomersOrderAreRefused) {
  Shopper carol = sign_up(http(), "ret_carol");
  Shopper mallory = sign_up(http(), "ret_mallory");
  const std::string order = buy(carol, {{kPoems, 2}});

  // More than was bought: 400, naming the line.
  HttpResponse r =
      ask_return(carol, order, json::array({{{"isbn", kPoems.isbn}, {"quantity", 3}}}));
  expect_problem(r, 400);
  EXPECT_NE(r.json().value("detail", "").find("lines[0]"), std::string::npos) << describe(r);
  // A book that is not in the order: 400.
  expect_problem(ask_return(carol, order, json::array({{{"isbn", kAtlas.isbn}, {"quantity", 1}}})),
                 400);
  // Malformed lines: 400 with the field.
  expect_problem(ask_return(carol, order, json::array()), 400, "lines");
  expect_problem(ask_return(carol, order, json::array({{{"isbn", "123"}, {"quantity", 1}}})), 400,
                 "lines[0].isbn");
  expect_problem(ask_return(carol, order, json::array({{{"isbn", kPoems.isbn}, {"quantity", 0}}})),
                 400, "lines[0].quantity");
  expect_problem(ask_return(carol, order,
                            json::array({{{"isbn", kPoems.isbn}, {"quantity", 1}},
                                         {{"isbn", kPoems.isbn}, {"quantity", 1}}})),
                 400, "lines[1].isbn");
  expect_problem(http().post_json("/api/orders/" + order + "/returns",
                                  json{{"lines", json::array()}, {"reason", "x"}}, carol.token),
                 400, "reason");

  // Another customer's order, an unknown one and a malformed id: 404 alike.
  const json one = json::array({{{"isbn", kPoems.isbn}, {"quantity", 1}}});
  expect_problem(ask_return(mallory, order, one), 404);
  expect_problem(ask_return(carol, wonderland::new_uuid(), one), 404);
  expect_problem(ask_return(carol, "not-an-order", one), 404);
  expect_problem(http().get("/api/orders/" + order + "/returns", mallory.token), 404);
  // Signed out: 401.
  expect_problem(http().post_json("/api/orders/" + order + "/returns", json{{"lines", one}}), 401);

  // Nothing was started by the refusals; carol's own return of one copy goes through, and
  // mallory cannot read it.
  HttpResponse ok = ask_return(carol, order, one);
  ASSERT_EQ(ok.status, 202) << describe(ok);
  const std::string id = ok.json().value("return_id", "");
  expect_problem(http().get("/api/returns/" + id, mallory.token), 404);
  expect_problem(http().get("/api/returns/" + wonderland::new_uuid(), carol.token), 404);
  EXPECT_EQ(http().get("/api/returns/" + id, carol.token).status, 200);
  // Once that return is recorded, the other copy of its line cannot be returned: one return per
  // order line. (Asked before the record, the check passes and the second return's own record
  // step is refused, so that it ends failed.)
  ASSERT_TRUE(wonderland::testing::eventually(
      [&] { return listed_returns(carol, order).size() == 1; }, 30s));
  expect_problem(ask_return(carol, order, json::array({{{"isbn", kPoems.isbn}, {"quantity", 2}}})),
                 409);
}

}  // namespace
