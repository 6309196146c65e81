// The payment ledger: charges and refunds against a real SQLite file, test cards, idempotency,
// the outbox and fault injection.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "wonderland/common/ids.hpp"
#include "wonderland/payment/payments.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::payment {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json card(const char* number, const char* method = "visa") {
  return json{{"method", method}, {"card_number", number}, {"expiry", "12/39"}, {"cvv", "123"}};
}

class PaymentsTest : public ::testing::Test {
 protected:
  PaymentsTest() {
    std::filesystem::create_directories(dir_);
    payments_ = std::make_unique<Payments>(options());
  }
  ~PaymentsTest() override {
    payments_.reset();
    std::filesystem::remove_all(dir_);
  }
  Options options() const {
    Options o;
    o.db_path = (dir_ / "payment.db").string();
    return o;
  }
  json charge_body(const std::string& order, std::int64_t amount, json payment) const {
    return json{{"order_id", order}, {"customer_id", customer_}, {"amount_cents", amount}, {"payment", std::move(payment)}};
  }
  /// Every byte of the database files, to look for what must never be stored.
  std::string database_bytes() const {
    std::string all;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      std::ifstream in(entry.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }

  std::filesystem::path dir_ = std::filesystem::temp_directory_path() / testing::unique_name("payment-test");
  std::string customer_ = new_uuid();
  std::unique_ptr<Payments> payments_;
};

TEST_F(PaymentsTest, ValidateRepliesMethodAndMaskedNumber) {
  json r = payments_->validate({{"payment", card("4242 4242 4242 4242")}}).value();
  EXPECT_EQ(r, (json{{"method", "visa"}, {"masked", "**** **** **** 4242"}}));
  Result<json> bad = payments_->validate({{"payment", card("4242 4242 4242 4241")}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, codes::kInvalidArgument);
  ASSERT_EQ(bad.error().fields.size(), 1u);
  EXPECT_EQ(bad.error().fields[0].field, "payment.card_number");
  Result<json> missing = payments_->validate(json::object());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().fields[0], (FieldError{"payment", "is required"}));
}

TEST_F(PaymentsTest, ChargesAValidCardAndKeepsOnlyTheLastFourDigits) {
  const std::string order = new_uuid();
  json r = payments_->charge(charge_body(order, 12345, card("4242-4242-4242-4242")), new_uuid()).value();
  EXPECT_TRUE(is_uuid(r["payment_id"].get<std::string>()));
  EXPECT_EQ(r["order_id"], order);
  EXPECT_EQ(r["amount_cents"], 12345);
  EXPECT_EQ(r["method"], "visa");
  EXPECT_EQ(r["masked"], "**** **** **** 4242");
  EXPECT_EQ(r["status"], "charged");

  json ledger = payments_->get({{"order_id", order}}).value();
  EXPECT_EQ(ledger["charged_cents"], 12345);
  EXPECT_EQ(ledger["refunded_cents"], 0);
  ASSERT_EQ(ledger["entries"].size(), 1u);
  EXPECT_EQ(ledger["entries"][0]["kind"], "charge");
  EXPECT_EQ(ledger["entries"][0]["masked"], "**** **** **** 4242");

  payments_.reset();  // flush everything to the files
  const std::string bytes = database_bytes();
  EXPECT_EQ(bytes.find("4242424242424242"), std::string::npos);
  EXPECT_EQ(bytes.find("4242-4242-4242-4242"), std::string::npos);
}

TEST_F(PaymentsTest, ChargesMastercardAndPaypal) {
  json mc = payments_->charge(charge_body(new_uuid(), 500, card("2223003122003222", "mastercard")), new_uuid()).value();
  EXPECT_EQ(mc["method"], "mastercard");
  EXPECT_EQ(mc["masked"], "**** **** **** 3222");
  json pp = payments_->charge(charge_body(new_uuid(), 500, {{"method", "paypal"}, {"paypal_email", "jane@example.com"}}),
                              new_uuid())
                .value();
  EXPECT_EQ(pp["method"], "paypal");
  EXPECT_EQ(pp["masked"], "j***@example.com");
}

TEST_F(PaymentsTest, TestCardsAreDeclined) {
  struct Case {
    json payment;
    const char* message;
  };
  const Case cases[] = {
      {card("4000 0000 0000 0002"), "Your card was declined"},
      {card("4000 0000 0000 9995"), "Insufficient funds"},
      {{{"method", "paypal"}, {"paypal_email", "declined@example.com"}}, "Your PayPal payment was declined"},
  };
  for (const auto& c : cases) {
    const std::string order = new_uuid();
    Result<json> r = payments_->charge(charge_body(order, 1000, c.payment), new_uuid());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), (Error{codes::kFailedPrecondition, c.message, false}));
    EXPECT_EQ(payments_->get({{"order_id", order}}).value()["entries"].size(), 0u);
  }
}

TEST_F(PaymentsTest, ChargeValidatesEveryField) {
  Result<json> r = payments_->charge(
      {{"order_id", "nope"}, {"customer_id", 7}, {"amount_cents", 0}, {"payment", card("4242424242424241")}}, new_uuid());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInvalidArgument);
  std::vector<std::string> names;
  for (const auto& f : r.error().fields) names.push_back(f.field);
  EXPECT_EQ(names, (std::vector<std::string>{"order_id", "customer_id", "amount_cents", "payment.card_number"}));
  for (const json& amount : {json(-5), json(1.5), json("100"), json(kMaxAmountCents + 1), json(18446744073709551615ull)}) {
    json body = charge_body(new_uuid(), 0, card("4242424242424242"));
    body["amount_cents"] = amount;
    Result<json> a = payments_->charge(body, new_uuid());
    ASSERT_FALSE(a.ok()) << amount.dump();
    EXPECT_EQ(a.error().fields.at(0).field, "amount_cents");
  }
  EXPECT_EQ(payments_->charge(json::array(), new_uuid()).error().code, codes::kInvalidArgument);
}

TEST_F(PaymentsTest, ChargeIsIdempotentByKeyAndByOrder) {
  const std::string order = new_uuid();
  const std::string key = new_uuid();
  json body = charge_body(order, 2500, card("4242424242424242"));
  json first = payments_->charge(body, key).value();
  EXPECT_EQ(payments_->charge(body, key).value(), first);
  EXPECT_EQ(payments_->charge(body, new_uuid()).value(), first);  // another key, same order
  json ledger = payments_->get({{"order_id", order}}).value();
  EXPECT_EQ(ledger["charged_cents"], 2500);
  EXPECT_EQ(ledger["entries"].size(), 1u);

  // A decline is recorded under its key too: the same key gets the same answer.
  const std::string declined_key = new_uuid();
  json declined = charge_body(new_uuid(), 2500, card("4000000000000002"));
  EXPECT_EQ(payments_->charge(declined, declined_key).error().message, "Your card was declined");
  EXPECT_EQ(payments_->charge(declined, declined_key).error().message, "Your card was declined");

  Result<json> no_key = payments_->charge(charge_body(new_uuid(), 1, card("4242424242424242")), "");
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.error().code, codes::kInvalidArgument);
}

TEST_F(PaymentsTest, RefundsOnceAndQueuesOneEvent) {
  const std::string order = new_uuid();
  ASSERT_TRUE(payments_->charge(charge_body(order, 4200, card("4242424242424242")), new_uuid()).ok());
  EXPECT_TRUE(payments_->pending_events().empty());

  messaging::Envelope cause = messaging::Envelope::make("payment.refund", {{"order_id", order}});
  cause.correlation_id = "workflow-1";
  json r = payments_->refund({{"order_id", order}}, new_uuid(), &cause).value();
  EXPECT_EQ(r, (json{{"order_id", order}, {"refunded_cents", 4200}, {"status", "refunded"}}));
  json again = payments_->refund({{"order_id", order}}, new_uuid()).value();  // another key
  EXPECT_EQ(again, r);

  json ledger = payments_->get({{"order_id", order}}).value();
  EXPECT_EQ(ledger["charged_cents"], 4200);
  EXPECT_EQ(ledger["refunded_cents"], 4200);
  ASSERT_EQ(ledger["entries"].size(), 2u);
  EXPECT_EQ(ledger["entries"][1]["kind"], "refund");

  std::vector<OutboxEvent> events = payments_->pending_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].routing_key, "order.refunded");
  EXPECT_EQ(events[0].envelope.type, "order.refunded");
  EXPECT_EQ(events[0].envelope.correlation_id, "workflow-1");
  EXPECT_EQ(events[0].envelope.causation_id, cause.message_id);
  EXPECT_EQ(events[0].envelope.body,
            (json{{"order_id", order}, {"customer_id", customer_}, {"refunded_cents", 4200}}));
  payments_->mark_published(events[0].id);
  EXPECT_TRUE(payments_->pending_events().empty());

  // Charging a refunded order again is refused rather than charging twice.
  Result<json> recharge = payments_->charge(charge_body(order, 4200, card("4242424242424242")), new_uuid());
  ASSERT_FALSE(recharge.ok());
  EXPECT_EQ(recharge.error().code, codes::kFailedPrecondition);
}

TEST_F(PaymentsTest, RefundWithoutChargeHasNothingToRefundAndVoidsTheOrder) {
  const std::string order = new_uuid();
  json r = payments_->refund({{"order_id", order}}, new_uuid()).value();
  EXPECT_EQ(r, (json{{"order_id", order}, {"refunded_cents", 0}, {"status", "nothing_to_refund"}}));
  EXPECT_EQ(payments_->refund({{"order_id", order}}, new_uuid()).value(), r);
  EXPECT_TRUE(payments_->pending_events().empty());
  Result<json> late = payments_->charge(charge_body(order, 100, card("4242424242424242")), new_uuid());
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, codes::kFailedPrecondition);
  EXPECT_EQ(payments_->get({{"order_id", order}}).value()["entries"].size(), 0u);
  EXPECT_EQ(payments_->refund({{"order_id", "x"}}, new_uuid()).error().fields.at(0).field, "order_id");
}

TEST_F(PaymentsTest, InjectedFaultsHitTheConfiguredShareDeterministically) {
  auto count_faults = [&](std::uint64_t seed) {
    Options o = options();
    o.fault_rate = 0.3;
    o.fault_seed = seed;
    Payments p(o);
    std::vector<bool> pattern;
    for (int i = 0; i < 1000; ++i) {
      // An invalid body: the calls that pass the fault draw end fast with invalid_argument.
      Result<json> r = i % 2 == 0 ? p.charge(json::object(), "k") : p.refund(json::object(), "k");
      EXPECT_FALSE(r.ok());
      if (r.ok()) continue;
      pattern.push_back(r.error().code == codes::kUnavailable);
      if (pattern.back()) {
        EXPECT_TRUE(r.error().retryable);
      } else {
        EXPECT_EQ(r.error().code, codes::kInvalidArgument);
      }
    }
    return pattern;
  };
  std::vector<bool> a = count_faults(42);
  std::vector<bool> b = count_faults(42);
  EXPECT_EQ(a, b);
  long faults = std::count(a.begin(), a.end(), true);
  EXPECT_GE(faults, 250);
  EXPECT_LE(faults, 350);
  EXPECT_NE(a, count_faults(43));
}

TEST_F(PaymentsTest, AFaultHappensBeforeAnythingAndIsNotRecorded) {
  Options o = options();
  o.fault_rate = 1.0;
  const std::string order = new_uuid();
  const std::string key = new_uuid();
  json body = charge_body(order, 999, card("4242424242424242"));
  {
    Payments failing(o);
    Result<json> r = failing.charge(body, key);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, codes::kUnavailable);
    EXPECT_TRUE(r.error().retryable);
    EXPECT_EQ(failing.refund({{"order_id", order}}, new_uuid()).error().code, codes::kUnavailable);
  }
  EXPECT_EQ(payments_->get({{"order_id", order}}).value()["entries"].size(), 0u);
  // The retry with the same key acts (the fault was not recorded, and the refund did not void).
  json r = payments_->charge(body, key).value();
  EXPECT_EQ(r["status"], "charged");
}

TEST_F(PaymentsTest, LatencyIsAddedToChargesAndRefunds) {
  Options o = options();
  o.latency = 60ms;
  Payments slow(o);
  auto start = std::chrono::steady_clock::now();
  (void)slow.refund({{"order_id", new_uuid()}}, new_uuid());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 60ms);
  start = std::chrono::steady_clock::now();
  (void)slow.validate({{"payment", card("4242424242424242")}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60ms);
}

TEST_F(PaymentsTest, RefusesOptionsOutOfRange) {
  Options o = options();
  o.fault_rate = 1.5;
  EXPECT_THROW(Payments{o}, std::invalid_argument);
  o.fault_rate = -0.1;
  EXPECT_THROW(Payments{o}, std::invalid_argument);
}

TEST_F(PaymentsTest, CommandsAreRoutedByType) {
  messaging::CommandRouter router;
  int refunds_seen = 0;
  payments_->register_commands(router, [&] { ++refunds_seen; });
  auto send = [&](const char* type, json body) {
    messaging::Envelope e = messaging::Envelope::make(type, std::move(body));
    e.idempotency_key = new_uuid();
    return router.dispatch(e);
  };
  const std::string order = new_uuid();
  EXPECT_TRUE(send("payment.validate", {{"payment", card("4242424242424242")}}).ok());
  EXPECT_TRUE(send("payment.charge", charge_body(order, 100, card("4242424242424242"))).ok());
  EXPECT_EQ(send("payment.refund", {{"order_id", order}}).value()["status"], "refunded");
  EXPECT_EQ(refunds_seen, 1);
  EXPECT_EQ(send("payment.get", {{"order_id", order}}).value()["refunded_cents"], 100);
  EXPECT_EQ(send("payment.steal", json::object()).error().code, codes::kInvalidArgument);
}

}  // namespace
}  // namespace wonderland::payment
