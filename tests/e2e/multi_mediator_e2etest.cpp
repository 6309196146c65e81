// End-to-end test of several mediators sharing one PostgreSQL journal behind HAProxy: requests
// are spread over the mediators, and an order whose mediator is killed while the payment is in
// flight is taken over by another one and confirmed, charged once.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "wonderland/common/ids.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/system.hpp"
#include "wonderland/testing/system_suite.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using wonderland::testing::HttpResponse;
using wonderland::testing::SystemOptions;
using wonderland::testing::SystemSuite;
using Clock = std::chrono::steady_clock;

constexpr char kAdminToken[] = "multi-mediator-operator-token";
constexpr char kPassword[] = "correct horse battery";
constexpr int kMediators = 2;
const wonderland::testing::CatalogueBook kBook{"9780000009029", "Shared Journal", 2450, 100};

class MultiMediatorE2e : public SystemSuite<MultiMediatorE2e> {
 protected:
  static void SetUpTestSuite() {
    SystemOptions options{.work_dir = WONDERLAND_E2E_WORK_DIR,
                          .catalogue = {kBook},
                          .admin_token = kAdminToken,
                          .tag = "multi"};
    options.mediators = kMediators;
    // The charge takes long enough for its mediator to be killed while it is in flight.
    options.env["payment"] = {{"WONDERLAND_PAYMENT_LATENCY_MS", "3000"}};
    start_system(std::move(options));
  }

  static void TearDownTestSuite() { stop_system(); }

  /// GET /api/mediators through the balancer.
  json mediators() {
    HttpResponse r = http().get("/api/mediators", kAdminToken);
    if (r.status != 200)
      throw std::runtime_error("GET /api/mediators: " + describe(r));
    return r.json();
  }

  /// Signs a new customer up and in; returns the session token.
  std::string sign_up() {
    const std::string user = "multi_" + wonderland::fast_random_hex(6);
    HttpResponse r = http().post_json("/api/customers", json{{"username", user},
                                                             {"email", user + "@example.com"},
                                                             {"password", kPassword},
                                                             {"first_name", "Multi"},
                                                             {"last_name", "Mediator"}});
    if (r.status != 201)
      throw std::runtime_error("sign-up: " + describe(r));
    r = http().post_json("/api/sessions", json{{"username", user}, {"password", kPassword}});
    if (r.status != 201)
      throw std::runtime_error("sign-in: " + describe(r));
    return r.json().value("token", "");
  }
  /// Puts the book in a new customer's basket and orders it; returns {token, order id}.
  std::pair<std::string, std::string> place_order() {
    const std::string token = sign_up();
    HttpResponse r = http().put_json(std::string("/api/basket/items/") + kBook.isbn,
                                     json{{"quantity", 1}}, token);
    if (r.status != 200)
      throw std::runtime_error("basket: " + describe(r));
    r = http().post_json(
        "/api/orders",
        json{{"payment", {{"method", "paypal"}, {"paypal_email", "multi@example.com"}}}}, token,
        {{"Idempotency-Key", wonderland::new_uuid()}});
    if (r.status != 202)
      throw std::runtime_error("order: " + describe(r));
    return {token, r.json().value("order_id", "")};
  }

  /// The process name of the mediator that owns the only running workflow ("" when none does
  /// within 5 s).
  std::string owner_name() {
    std::string owner;
    for (auto deadline = Clock::now() + 5s; owner.empty() && Clock::now() < deadline;) {
      const json listed = mediators();
      for (const auto& m : listed.at("mediators")) {
        if (m.value("running", 0) > 0)
          owner = m.value("instance_id", "");
      }
      if (owner.empty())
        std::this_thread::sleep_for(50ms);
    }
    for (const auto& name : store().mediator_names()) {
      if (!owner.empty() && store().mediator_id(name) == owner)
        return name;
    }
    return "";
  }
};

TEST_F(MultiMediatorE2e, TheBalancerSpreadsRequestsOverMediatorsSharingOneJournal) {
  std::set<std::string> expected;
  for (const auto& name : store().mediator_names())
    expected.insert(store().mediator_id(name));
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kMediators));

  std::set<std::string> answering;
  for (int i = 0; i < 4 * kMediators; ++i) {
    json body = mediators();
    EXPECT_EQ(body.value("journal", ""), "postgresql") << body.dump();
    answering.insert(body.value("instance_id", ""));
    std::set<std::string> listed;
    for (const auto& m : body.at("mediators"))
      listed.insert(m.value("instance_id", ""));
    EXPECT_EQ(listed, expected) << body.dump();
  }
  EXPECT_EQ(answering, expected) << "round robin should reach every mediator";
}

TEST_F(MultiMediatorE2e, ALongPollOnAMediatorThatDoesNotDriveTheOrderWakesWhenItSettles) {
  auto [token, order_id] = place_order();
  const std::string owner = owner_name();
  ASSERT_FALSE(owner.empty()) << mediators().dump();
  std::string other;
  for (const auto& name : store().mediator_names()) {
    if (name != owner)
      other = name;
  }
  // The payment takes 3 s; the poll asks for up to 30 s on the mediator that does not drive the
  // order. Woken by the owner's workflow events, it answers soon after the order settles.
  wonderland::testing::HttpClient direct(store().mediator_port(other));
  const auto asked = Clock::now();
  HttpResponse r = direct.get("/api/orders/" + order_id + "?wait_ms=30000", token);
  const auto waited = Clock::now() - asked;
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.json().value("status", ""), "confirmed") << describe(r);
  EXPECT_LT(waited, 15s) << "the long poll ran to its timeout: nothing woke it";
}

TEST_F(MultiMediatorE2e, AnOrderWhoseMediatorIsKilledInFlightIsConfirmedByAnother) {
  auto [token, order_id] = place_order();
  ASSERT_FALSE(order_id.empty());
  // The order is the only running workflow: its owner is the mediator that lists one.
  const std::string owner_name = this->owner_name();
  ASSERT_FALSE(owner_name.empty()) << "no mediator owns the order: " << mediators().dump();
  const std::string owner = store().mediator_id(owner_name);

  store().process(owner_name).kill();

  // Through the balancer, which sends everything to the survivor: the order completes.
  json order;
  for (auto deadline = Clock::now() + 90s; Clock::now() < deadline;) {
    HttpResponse r = http().get("/api/orders/" + order_id + "?wait_ms=2000", token);
    if (r.status == 200) {
      order = r.json();
      const std::string status = order.value("status", "");
      if (status == "confirmed" || status == "failed")
        break;
    } else {
      // A request in flight to the killed mediator may fail once; nothing else should.
      EXPECT_TRUE(r.status == 502 || r.status == 503) << describe(r);
      std::this_thread::sleep_for(200ms);
    }
  }
  ASSERT_EQ(order.value("status", ""), "confirmed") << order.dump();

  // Charged once, whoever ran the payment step.
  json ledger = store().ledger(order_id);
  EXPECT_EQ(ledger.value("charged_cents", 0), kBook.price_cents) << ledger.dump();
  EXPECT_EQ(ledger.value("refunded_cents", 0), 0) << ledger.dump();

  // The survivor took the order over and finished it: no mediator still owns a running
  // workflow. (Confirmed comes at the purchase's pivot; its announcement may still be going.)
  json after;
  wonderland::testing::eventually(
      [&] {
        after = mediators();
        for (const auto& m : after.at("mediators")) {
          if (m.value("running", 0) != 0)
            return false;
        }
        return true;
      },
      30s);
  for (const auto& m : after.at("mediators"))
    EXPECT_EQ(m.value("running", 0), 0) << after.dump();

  // The killed mediator comes back under its id and serves again.
  store().restart(owner_name, false);
  bool answered = false;
  for (auto deadline = Clock::now() + 20s; !answered && Clock::now() < deadline;) {
    answered = mediators().value("instance_id", "") == owner;
    if (!answered)
      std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(answered) << "the restarted mediator should answer through the balancer again";
}

}  // namespace
