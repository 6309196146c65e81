// The payment ledger: tokens, charges, refunds and partial refunds against a real SQLite file,
// test cards, idempotency, card data sealed at rest, the outbox and fault injection.
#include "wonderland/payment/payments.hpp"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "wonderland/common/ids.hpp"
#include "wonderland/sqlite/db.hpp"
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
  /// A token for `payment` (which must be valid), issued to the test's customer.
  std::string token_for(const json& payment) {
    Result<json> t = payments_->tokenize({{"customer_id", customer_}, {"payment", payment}});
    EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
    return t.ok() ? t.value()["payment_token"].get<std::string>() : std::string(64, '0');
  }
  json charge_body(const std::string& order, std::int64_t amount, const json& payment) {
    return json{{"order_id", order},
                {"customer_id", customer_},
                {"amount_cents", amount},
                {"payment_token", token_for(payment)}};
  }
  /// The details sealed in every token row, opened with the key file: [{...}, ...] by rowid.
  std::vector<json> opened_tokens() const {
    std::ifstream in(dir_ / "payment.key", std::ios::binary);
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(key.size(), 32u);
    sqlite::Db db((dir_ / "payment.db").string());
    auto rows = db.prepare("SELECT sealed FROM payment_tokens ORDER BY rowid");
    std::vector<json> out;
    while (rows.step()) {
      std::string hex = rows.text(0);
      std::vector<unsigned char> box(hex.size() / 2);
      std::size_t len = 0;
      EXPECT_EQ(
          sodium_hex2bin(box.data(), box.size(), hex.data(), hex.size(), nullptr, &len, nullptr),
          0);
      std::string plain(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
      EXPECT_EQ(crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                           box.data() + crypto_secretbox_NONCEBYTES,
                                           len - crypto_secretbox_NONCEBYTES, box.data(),
                                           reinterpret_cast<const unsigned char*>(key.data())),
                0);
      out.push_back(json::parse(plain));
    }
    return out;
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

  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / testing::unique_name("payment-test");
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
  json r =
      payments_->charge(charge_body(order, 12345, card("4242-4242-4242-4242")), new_uuid()).value();
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

TEST_F(PaymentsTest, TokenizeChecksStrictlyAndAnswersDisplayDataOnly) {
  json payment = card("4242 4242 4242 4242");
  payment["cvv"] = "987";
  json r = payments_->tokenize({{"customer_id", customer_}, {"payment", payment}}).value();
  const std::string token = r["payment_token"].get<std::string>();
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
  r.erase("payment_token");
  EXPECT_EQ(r, (json{{"method", "visa"},
                     {"brand", "visa"},
                     {"last4", "4242"},
                     {"masked", "**** **** **** 4242"}}));
  json pp =
      payments_
          ->tokenize({{"customer_id", customer_},
                      {"payment", {{"method", "paypal"}, {"paypal_email", "jane@example.com"}}}})
          .value();
  EXPECT_EQ(pp["masked"], "j***@example.com");
  EXPECT_FALSE(pp.contains("last4"));
  EXPECT_NE(pp["payment_token"], token);

  // Unknown keys are refused by name, as are the usual mistakes; nothing is kept for them.
  json extra = card("4242424242424242");
  extra["nested"] = json::array({json::array()});
  Result<json> bad = payments_->tokenize({{"customer_id", customer_}, {"payment", extra}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, codes::kInvalidArgument);
  ASSERT_EQ(bad.error().fields.size(), 1u);
  EXPECT_EQ(bad.error().fields[0].field, "payment.nested");
  EXPECT_EQ(payments_->validate({{"payment", extra}}).error().fields.at(0).field, "payment.nested");
  Result<json> worse =
      payments_->tokenize({{"customer_id", "x"}, {"payment", card("4242424242424241")}});
  ASSERT_FALSE(worse.ok());
  std::vector<std::string> names;
  for (const auto& f : worse.error().fields)
    names.push_back(f.field);
  EXPECT_EQ(names, (std::vector<std::string>{"customer_id", "payment.card_number"}));
  EXPECT_EQ(opened_tokens().size(), 2u);

  // At rest: sealed. Neither the number, the expiry, the CVV nor the PayPal address nor the token.
  payments_.reset();
  const std::string bytes = database_bytes();
  for (const char* secret :
       {"4242424242424242", "4242 4242 4242 4242", "12/39", "\"987\"", "jane@example.com"}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
  }
  EXPECT_EQ(bytes.find(token), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "payment.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::vector<json> opened = opened_tokens();  // the key file opens them
  ASSERT_EQ(opened.size(), 2u);
  EXPECT_EQ(opened[0],
            (json{{"card_number", "4242424242424242"}, {"expiry", "12/39"}, {"cvv", "987"}}));
  EXPECT_EQ(opened[1], (json{{"paypal_email", "jane@example.com"}}));
}

TEST_F(PaymentsTest, TheCvvIsDiscardedOnceTheChargeIsDecided) {
  ASSERT_TRUE(
      payments_->charge(charge_body(new_uuid(), 100, card("4242424242424242")), new_uuid()).ok());
  json declined = charge_body(new_uuid(), 100, card("4000000000000002"));
  EXPECT_EQ(payments_->charge(declined, new_uuid()).error().code, codes::kFailedPrecondition);
  const std::string pending = token_for(card("5555555555554444", "mastercard"));
  std::vector<json> opened = opened_tokens();
  ASSERT_EQ(opened.size(), 3u);
  EXPECT_EQ(opened[0], (json{{"card_number", "4242424242424242"}, {"expiry", "12/39"}}));
  EXPECT_EQ(opened[1], (json{{"card_number", "4000000000000002"}, {"expiry", "12/39"}}));
  EXPECT_EQ(opened[2].value("cvv", ""), "123");  // not charged yet

  // A retryable failure keeps it: the retry still has what it needs.
  Options o = options();
  o.fault_rate = 1.0;
  json body{{"order_id", new_uuid()},
            {"customer_id", customer_},
            {"amount_cents", 100},
            {"payment_token", pending}};
  {
    Payments failing(o);
    EXPECT_EQ(failing.charge(body, new_uuid()).error().code, codes::kUnavailable);
  }
  EXPECT_EQ(opened_tokens()[2].value("cvv", ""), "123");
  EXPECT_EQ(payments_->charge(body, new_uuid()).value()["masked"], "**** **** **** 4444");
  EXPECT_FALSE(opened_tokens()[2].contains("cvv"));
}

TEST_F(PaymentsTest, ATokenIsBoundToItsCustomerAndExpiresUnused) {
  SystemTime now = std::chrono::system_clock::now();
  Options o = options();
  o.clock = [&] { return now; };
  o.token_ttl = std::chrono::seconds(3600);
  payments_ = std::make_unique<Payments>(o);
  const std::string token = token_for(card("4242424242424242"));
  json theirs{{"order_id", new_uuid()},
              {"customer_id", new_uuid()},
              {"amount_cents", 100},
              {"payment_token", token}};
  Result<json> r = payments_->charge(theirs, new_uuid());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInvalidArgument);
  EXPECT_FALSE(r.error().retryable);
  EXPECT_EQ(r.error().fields.at(0).field, "payment_token");
  json unknown{{"order_id", new_uuid()},
               {"customer_id", customer_},
               {"amount_cents", 100},
               {"payment_token", std::string(64, 'a')}};
  EXPECT_EQ(payments_->charge(unknown, new_uuid()).error().fields.at(0).field, "payment_token");

  const std::string used = token_for(card("4242424242424242"));
  json mine{{"order_id", new_uuid()},
            {"customer_id", customer_},
            {"amount_cents", 100},
            {"payment_token", used}};
  ASSERT_TRUE(payments_->charge(mine, new_uuid()).ok());
  now += std::chrono::hours(2);
  json late{{"order_id", new_uuid()},
            {"customer_id", customer_},
            {"amount_cents", 100},
            {"payment_token", token}};
  Result<json> expired = payments_->charge(late, new_uuid());
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, codes::kFailedPrecondition);
  EXPECT_FALSE(expired.error().retryable);
  // The next tokenize deletes the expired one; the charged one stays (its order owns it).
  EXPECT_EQ(opened_tokens().size(), 2u);
  (void)token_for(card("4242424242424242"));
  EXPECT_EQ(opened_tokens().size(), 2u);
  EXPECT_EQ(payments_->charge(mine, new_uuid()).value()["status"],
            "charged");  // same order, replayed
}

TEST_F(PaymentsTest, TheKeyComesFromTheOptionsOrItsFile) {
  payments_.reset();
  std::filesystem::remove(dir_ / "payment.key");  // made by the fixture's Payments
  Options o = options();
  o.key = std::make_shared<const SecretKey>(SecretKey::from_hex(std::string(64, '1'), "test key"));
  const std::string token = [&] {
    Payments p(o);
    return p.tokenize({{"customer_id", customer_}, {"payment", card("4242424242424242")}})
        .value()["payment_token"]
        .get<std::string>();
  }();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "payment.key"));
  json body{{"order_id", new_uuid()},
            {"customer_id", customer_},
            {"amount_cents", 100},
            {"payment_token", token}};
  {
    Payments other(options());  // another key: the sealed details do not open
    Result<json> r = other.charge(body, new_uuid());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, codes::kInternal);
  }
  Payments p(o);
  EXPECT_EQ(p.charge(body, new_uuid()).value()["status"], "charged");
  EXPECT_THROW(SecretKey::from_hex("abc", "test key"), std::invalid_argument);
}

TEST_F(PaymentsTest, ChargesMastercardAndPaypal) {
  json mc =
      payments_
          ->charge(charge_body(new_uuid(), 500, card("2223003122003222", "mastercard")), new_uuid())
          .value();
  EXPECT_EQ(mc["method"], "mastercard");
  EXPECT_EQ(mc["masked"], "**** **** **** 3222");
  json pp = payments_
                ->charge(charge_body(new_uuid(), 500,
                                     {{"method", "paypal"}, {"paypal_email", "jane@example.com"}}),
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
      {{{"method", "paypal"}, {"paypal_email", "declined@example.com"}},
       "Your PayPal payment was declined"},
  };
  for (const auto& c : cases) {
    const std::string order = new_uuid();
    Result<json> r = payments_->charge(charge_body(order, 1000, c.payment), new_uuid());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Error::of(codes::kFailedPrecondition, c.message));
    EXPECT_EQ(payments_->get({{"order_id", order}}).value()["entries"].size(), 0u);
  }
}

TEST_F(PaymentsTest, ChargeValidatesEveryField) {
  Result<json> r = payments_->charge({{"order_id", "nope"},
                                      {"customer_id", 7},
                                      {"amount_cents", 0},
                                      {"payment", card("4242424242424242")}},
                                     new_uuid());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInvalidArgument);
  std::vector<std::string> names;
  for (const auto& f : r.error().fields)
    names.push_back(f.field);
  EXPECT_EQ(names,
            (std::vector<std::string>{"order_id", "customer_id", "amount_cents", "payment_token"}));
  for (const json& amount : {json(-5), json(1.5), json("100"), json(kMaxAmountCents + 1),
                             json(18446744073709551615ull)}) {
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
  ASSERT_TRUE(
      payments_->charge(charge_body(order, 4200, card("4242424242424242")), new_uuid()).ok());
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
  Result<json> recharge =
      payments_->charge(charge_body(order, 4200, card("4242424242424242")), new_uuid());
  ASSERT_FALSE(recharge.ok());
  EXPECT_EQ(recharge.error().code, codes::kFailedPrecondition);
}

TEST_F(PaymentsTest, RefundWithoutChargeHasNothingToRefundAndVoidsTheOrder) {
  const std::string order = new_uuid();
  json r = payments_->refund({{"order_id", order}}, new_uuid()).value();
  EXPECT_EQ(r, (json{{"order_id", order}, {"refunded_cents", 0}, {"status", "nothing_to_refund"}}));
  EXPECT_EQ(payments_->refund({{"order_id", order}}, new_uuid()).value(), r);
  EXPECT_TRUE(payments_->pending_events().empty());
  Result<json> late =
      payments_->charge(charge_body(order, 100, card("4242424242424242")), new_uuid());
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, codes::kFailedPrecondition);
  EXPECT_EQ(payments_->get({{"order_id", order}}).value()["entries"].size(), 0u);
  EXPECT_EQ(payments_->refund({{"order_id", "x"}}, new_uuid()).error().fields.at(0).field,
            "order_id");
}

json partial(const std::string& order, const std::string& refund_id, std::int64_t amount) {
  return json{{"order_id", order}, {"refund_id", refund_id}, {"amount_cents", amount}};
}

TEST_F(PaymentsTest, PartialRefundIsMadeOncePerRefundId) {
  const std::string order = new_uuid();
  ASSERT_TRUE(
      payments_->charge(charge_body(order, 5000, card("4242424242424242")), new_uuid()).ok());
  const std::string refund_id = new_uuid() + "/9780141439761";
  json r = payments_->refund_partial(partial(order, refund_id, 1200), new_uuid()).value();
  EXPECT_EQ(r, (json{{"order_id", order},
                     {"refund_id", refund_id},
                     {"refunded_cents", 1200},
                     {"remaining_cents", 3800},
                     {"status", "refunded"}}));
  // A repeat under another idempotency key (the natural key decides) replies the same.
  EXPECT_EQ(payments_->refund_partial(partial(order, refund_id, 1200), new_uuid()).value(), r);
  const std::string second = new_uuid() + "/9780141321073";
  EXPECT_EQ(
      payments_->refund_partial(partial(order, second, 800), new_uuid()).value()["remaining_cents"],
      3000);
  // The same refund_id for another amount is not a repeat.
  Result<json> clash = payments_->refund_partial(partial(order, refund_id, 1300), new_uuid());
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, codes::kConflict);

  json ledger = payments_->get({{"order_id", order}}).value();
  EXPECT_EQ(ledger["charged_cents"], 5000);
  EXPECT_EQ(ledger["refunded_cents"], 2000);
  EXPECT_EQ(ledger["remaining_cents"], 3000);
  ASSERT_EQ(ledger["entries"].size(), 3u);
  EXPECT_FALSE(ledger["entries"][0].contains("refund_id"));
  EXPECT_EQ(ledger["entries"][1]["kind"], "refund");
  EXPECT_EQ(ledger["entries"][1]["amount_cents"], 1200);
  EXPECT_EQ(ledger["entries"][1]["refund_id"], refund_id);
  EXPECT_EQ(ledger["entries"][2]["refund_id"], second);
  // No event for partial refunds, and the charge stays: charging again returns it.
  EXPECT_TRUE(payments_->pending_events().empty());
  EXPECT_EQ(payments_->charge(charge_body(order, 5000, card("4242424242424242")), new_uuid())
                .value()["status"],
            "charged");
}

TEST_F(PaymentsTest, PartialRefundAboveWhatIsRefundableIsRefusedWithTheFigures) {
  const std::string order = new_uuid();
  ASSERT_TRUE(
      payments_->charge(charge_body(order, 3000, card("4242424242424242")), new_uuid()).ok());
  ASSERT_TRUE(payments_->refund_partial(partial(order, "r-1", 2000), new_uuid()).ok());
  Result<json> over = payments_->refund_partial(partial(order, "r-2", 1500), new_uuid());
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, codes::kFailedPrecondition);
  EXPECT_FALSE(over.error().retryable);
  EXPECT_EQ(over.error().message, "Cannot refund 1500 cents for order " + order +
                                      ": only 1000 of the 3000 cents charged are still refundable");
  // Exactly what remains is fine; then nothing is left.
  EXPECT_EQ(
      payments_->refund_partial(partial(order, "r-3", 1000), new_uuid()).value()["remaining_cents"],
      0);
  EXPECT_EQ(payments_->refund_partial(partial(order, "r-4", 1), new_uuid()).error().code,
            codes::kFailedPrecondition);

  // Once the charge is refunded in full, partial refunds are refused, but repeats still reply.
  const std::string other = new_uuid();
  ASSERT_TRUE(
      payments_->charge(charge_body(other, 900, card("4242424242424242")), new_uuid()).ok());
  json first = payments_->refund_partial(partial(other, "o-1", 100), new_uuid()).value();
  ASSERT_TRUE(payments_->refund({{"order_id", other}}, new_uuid()).ok());
  Result<json> after = payments_->refund_partial(partial(other, "o-2", 100), new_uuid());
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, codes::kFailedPrecondition);
  EXPECT_EQ(after.error().message,
            "The payment for order " + other + " was refunded in full (900 of 900 cents)");
  EXPECT_EQ(payments_->refund_partial(partial(other, "o-1", 100), new_uuid()).value(), first);
}

TEST_F(PaymentsTest, RefundAfterPartialRefundsReturnsTheRemainder) {
  const std::string order = new_uuid();
  ASSERT_TRUE(
      payments_->charge(charge_body(order, 5000, card("4242424242424242")), new_uuid()).ok());
  ASSERT_TRUE(payments_->refund_partial(partial(order, "a", 1000), new_uuid()).ok());
  ASSERT_TRUE(payments_->refund_partial(partial(order, "b", 1500), new_uuid()).ok());
  json r = payments_->refund({{"order_id", order}}, new_uuid()).value();
  EXPECT_EQ(r, (json{{"order_id", order}, {"refunded_cents", 2500}, {"status", "refunded"}}));
  EXPECT_EQ(payments_->refund({{"order_id", order}}, new_uuid()).value(), r);  // a repeat
  std::vector<OutboxEvent> events = payments_->pending_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].envelope.body["refunded_cents"], 2500);
  json ledger = payments_->get({{"order_id", order}}).value();
  EXPECT_EQ(ledger["refunded_cents"], 5000);
  EXPECT_EQ(ledger["remaining_cents"], 0);
  ASSERT_EQ(ledger["entries"].size(), 4u);
  EXPECT_FALSE(ledger["entries"][3].contains("refund_id"));
  EXPECT_EQ(ledger["entries"][3]["amount_cents"], 2500);

  // Partial refunds of everything: the refund has nothing left, records no entry, sends nothing.
  const std::string all = new_uuid();
  ASSERT_TRUE(payments_->charge(charge_body(all, 700, card("4242424242424242")), new_uuid()).ok());
  ASSERT_TRUE(payments_->refund_partial(partial(all, "all", 700), new_uuid()).ok());
  json nothing = payments_->refund({{"order_id", all}}, new_uuid()).value();
  EXPECT_EQ(nothing,
            (json{{"order_id", all}, {"refunded_cents", 0}, {"status", "nothing_to_refund"}}));
  EXPECT_EQ(payments_->refund({{"order_id", all}}, new_uuid()).value(), nothing);
  EXPECT_EQ(payments_->pending_events().size(), 1u);
  EXPECT_EQ(payments_->get({{"order_id", all}}).value()["entries"].size(), 2u);
  // The purchase was compensated: a late charge is refused.
  EXPECT_EQ(
      payments_->charge(charge_body(all, 700, card("4242424242424242")), new_uuid()).error().code,
      codes::kFailedPrecondition);
}

TEST_F(PaymentsTest, PartialRefundOfAnUnknownOrderIsNotFound) {
  const std::string order = new_uuid();
  Result<json> r = payments_->refund_partial(partial(order, "r", 100), new_uuid());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kNotFound);
  EXPECT_EQ(r.error().message, "No payment for order " + order);
  // It does not void the order: a charge for it still goes through.
  EXPECT_TRUE(
      payments_->charge(charge_body(order, 100, card("4242424242424242")), new_uuid()).ok());
}

TEST_F(PaymentsTest, PartialRefundChecksEveryField) {
  auto fields_of = [&](const json& body) {
    Result<json> r = payments_->refund_partial(body, new_uuid());
    std::vector<std::string> names;
    if (r.ok()) {
      ADD_FAILURE() << "accepted " << body.dump();
      return names;
    }
    EXPECT_EQ(r.error().code, codes::kInvalidArgument) << body.dump();
    for (const FieldError& f : r.error().fields)
      names.push_back(f.field);
    return names;
  };
  using Names = std::vector<std::string>;
  EXPECT_EQ(fields_of(json::object()), (Names{"order_id", "refund_id", "amount_cents"}));
  EXPECT_EQ(fields_of(partial("x", "r", 1)), Names{"order_id"});
  EXPECT_EQ(fields_of(partial(new_uuid(), "", 1)), Names{"refund_id"});
  EXPECT_EQ(fields_of(partial(new_uuid(), std::string(201, 'r'), 1)), Names{"refund_id"});
  EXPECT_EQ(fields_of(partial(new_uuid(), "r", 0)), Names{"amount_cents"});
  EXPECT_EQ(fields_of(partial(new_uuid(), "r", -5)), Names{"amount_cents"});
  json mistyped = partial(new_uuid(), "r", 1);
  mistyped["refund_id"] = 42;
  mistyped["amount_cents"] = "1";
  EXPECT_EQ(fields_of(mistyped), (Names{"refund_id", "amount_cents"}));
  EXPECT_EQ(payments_->refund_partial(json::array(), new_uuid()).error().code,
            codes::kInvalidArgument);
  // 200 characters is the limit, not over it.
  EXPECT_EQ(payments_->refund_partial(partial(new_uuid(), std::string(200, 'r'), 1), new_uuid())
                .error()
                .code,
            codes::kNotFound);
}

TEST_F(PaymentsTest, ALedgerWithoutThePartialRefundsTableIsMigrated) {
  // A ledger as the code before partial refunds left it: one order refunded in full.
  const std::string order = new_uuid();
  ASSERT_TRUE(
      payments_->charge(charge_body(order, 4200, card("4242424242424242")), new_uuid()).ok());
  ASSERT_TRUE(payments_->refund({{"order_id", order}}, new_uuid()).ok());
  payments_.reset();
  {
    sqlite::Db db((dir_ / "payment.db").string());
    db.exec("DROP TABLE partial_refunds");
  }
  payments_ = std::make_unique<Payments>(options());
  EXPECT_EQ(payments_->refund({{"order_id", order}}, new_uuid()).value(),
            (json{{"order_id", order}, {"refunded_cents", 4200}, {"status", "refunded"}}));
  json ledger = payments_->get({{"order_id", order}}).value();
  EXPECT_EQ(ledger["refunded_cents"], 4200);
  EXPECT_EQ(ledger["remaining_cents"], 0);
  const std::string next = new_uuid();
  ASSERT_TRUE(payments_->charge(charge_body(next, 100, card("4242424242424242")), new_uuid()).ok());
  EXPECT_EQ(
      payments_->refund_partial(partial(next, "n", 40), new_uuid()).value()["remaining_cents"], 60);
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
      if (r.ok())
        continue;
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
  EXPECT_EQ(
      send("payment.tokenize", {{"customer_id", customer_}, {"payment", card("4242424242424242")}})
          .value()["masked"],
      "**** **** **** 4242");
  EXPECT_TRUE(send("payment.charge", charge_body(order, 100, card("4242424242424242"))).ok());
  EXPECT_EQ(send("payment.refund", {{"order_id", order}}).value()["status"], "refunded");
  EXPECT_EQ(refunds_seen, 1);
  EXPECT_EQ(send("payment.get", {{"order_id", order}}).value()["refunded_cents"], 100);
  const std::string other = new_uuid();
  EXPECT_TRUE(send("payment.charge", charge_body(other, 100, card("4242424242424242"))).ok());
  EXPECT_EQ(send("payment.refund_partial",
                 {{"order_id", other}, {"refund_id", "r"}, {"amount_cents", 30}})
                .value()["remaining_cents"],
            70);
  EXPECT_EQ(refunds_seen, 1);
  EXPECT_EQ(send("payment.steal", json::object()).error().code, codes::kInvalidArgument);
}

}  // namespace
}  // namespace wonderland::payment
