// Payment method validation: Luhn, brands and lengths, expiry, CVV, PayPal addresses, masking.
#include "wonderland/payment/method.hpp"

#include <gtest/gtest.h>

namespace wonderland::payment {
namespace {

using nlohmann::json;

/// 2026-11-26T09:26:12Z
SystemTime fixed_now() {
  return parse_iso8601("2026-11-26T09:26:12.000Z").value();
}

std::vector<std::string> field_names(const Error& e) {
  std::vector<std::string> names;
  for (const auto& f : e.fields)
    names.push_back(f.field);
  return names;
}

TEST(Luhn, Table) {
  struct Case {
    const char* digits;
    bool valid;
  };
  const Case cases[] = {
      {"4242424242424242", true},
      {"4242424242424241", false},
      {"4000000000000002", true},
      {"4000000000009995", true},
      {"5555555555554444", true},
      {"2223003122003222", true},
      {"4222222222222", true},
      {"4000000000000000006", true},
      {"79927398713", true},
      {"79927398710", false},
      {"0", false},
      {"", false},
      {"4242-4242-4242-4242", false},  // digits only: separators are removed before
  };
  for (const auto& c : cases)
    EXPECT_EQ(luhn_valid(c.digits), c.valid) << c.digits;
}

TEST(Brands, VisaStartsWith4AndHas13Or16Or19Digits) {
  EXPECT_TRUE(is_visa("4222222222222"));
  EXPECT_TRUE(is_visa("4242424242424242"));
  EXPECT_TRUE(is_visa("4000000000000000006"));
  EXPECT_FALSE(is_visa("42424242424242"));    // 14
  EXPECT_FALSE(is_visa("424242424242424"));   // 15
  EXPECT_FALSE(is_visa("5242424242424242"));  // not a 4
  EXPECT_FALSE(is_visa(""));
}

TEST(Brands, MastercardIs51To55Or2221To2720With16Digits) {
  EXPECT_TRUE(is_mastercard("5100000000000008"));
  EXPECT_TRUE(is_mastercard("5500000000000004"));
  EXPECT_TRUE(is_mastercard("5555555555554444"));
  EXPECT_TRUE(is_mastercard("2221000000000009"));
  EXPECT_TRUE(is_mastercard("2720992720992729"));
  EXPECT_FALSE(is_mastercard("5600000000000003"));
  EXPECT_FALSE(is_mastercard("5000000000000000"));
  EXPECT_FALSE(is_mastercard("2220000000000000"));
  EXPECT_FALSE(is_mastercard("2721000000000004"));
  EXPECT_FALSE(is_mastercard("555555555555444"));  // 15
  EXPECT_FALSE(is_mastercard("4242424242424242"));
}

TEST(Expiry, MustBeMmYyNotBeforeTheCurrentMonth) {
  const SystemTime now = fixed_now();       // November 2026
  EXPECT_TRUE(expiry_valid("11/26", now));  // valid through the end of the month
  EXPECT_TRUE(expiry_valid("12/26", now));
  EXPECT_TRUE(expiry_valid("01/27", now));
  EXPECT_TRUE(expiry_valid("11/46", now));
  EXPECT_FALSE(expiry_valid("12/46", now));  // more than 20 years ahead
  EXPECT_FALSE(expiry_valid("10/26", now));
  EXPECT_FALSE(expiry_valid("12/25", now));
  EXPECT_FALSE(expiry_valid("00/27", now));
  EXPECT_FALSE(expiry_valid("13/27", now));
  EXPECT_FALSE(expiry_valid("1/27", now));
  EXPECT_FALSE(expiry_valid("01/2027", now));
  EXPECT_FALSE(expiry_valid("01-27", now));
  EXPECT_FALSE(expiry_valid("ab/cd", now));
  EXPECT_FALSE(expiry_valid("", now));
  // The boundary is UTC: the last second of October 2026 is still October.
  EXPECT_TRUE(expiry_valid("10/26", parse_iso8601("2026-10-31T23:59:59Z").value()));
  EXPECT_FALSE(expiry_valid("10/26", parse_iso8601("2026-11-01T00:00:00Z").value()));
}

TEST(Email, Table) {
  for (const char* ok :
       {"alice@example.com", "a.b+shop@mail.example.co.uk", "x@y.io", "declined@example.com"}) {
    EXPECT_TRUE(is_valid_email(ok)) << ok;
  }
  for (const char* bad :
       {"", "alice", "alice@", "@example.com", "alice@example", "alice@@example.com",
        "al ice@example.com", "alice@exa mple.com", "alice@.example.com", "alice@example..com",
        "alice@example.com.", "alice@-example.com", "a@b@c.com", "alice@exam_ple.com"}) {
    EXPECT_FALSE(is_valid_email(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_email(std::string(250, 'a') + "@example.com"));
}

TEST(ParsePaymentMethod, AcceptsCardsWithSpacesOrDashesAndMasksThem) {
  Result<PaymentMethod> visa = parse_payment_method({{"method", "visa"},
                                                     {"card_number", "4242 4242 4242 4242"},
                                                     {"expiry", "12/27"},
                                                     {"cvv", "123"}},
                                                    fixed_now());
  ASSERT_TRUE(visa.ok()) << visa.error().message;
  EXPECT_EQ(visa->card_number, "4242424242424242");
  EXPECT_EQ(visa->masked(), "**** **** **** 4242");

  Result<PaymentMethod> mc = parse_payment_method({{"method", "mastercard"},
                                                   {"card_number", "5555-5555-5555-4444"},
                                                   {"expiry", "01/28"},
                                                   {"cvv", "000"}},
                                                  fixed_now());
  ASSERT_TRUE(mc.ok()) << mc.error().message;
  EXPECT_EQ(mc->method, Method::kMastercard);
  EXPECT_EQ(mc->masked(), "**** **** **** 4444");

  Result<PaymentMethod> pp = parse_payment_method(
      {{"method", "paypal"}, {"paypal_email", "jane@example.com"}}, fixed_now());
  ASSERT_TRUE(pp.ok());
  EXPECT_EQ(pp->masked(), "j***@example.com");
  EXPECT_EQ(to_string(pp->method), "paypal");
}

TEST(ParsePaymentMethod, ReportsEveryBadFieldByName) {
  struct Case {
    json payment;
    std::vector<std::string> fields;
    std::string message;  ///< of the first field, when not empty
  };
  const json good{
      {"method", "visa"}, {"card_number", "4242424242424242"}, {"expiry", "12/27"}, {"cvv", "123"}};
  auto with = [&](const char* key, json value) {
    json j = good;
    j[key] = std::move(value);
    return j;
  };
  const std::vector<Case> cases = {
      {json::object(), {"payment.method"}, "must be one of visa, mastercard, paypal"},
      {"visa", {"payment"}, ""},
      {with("method", "amex"), {"payment.method"}, ""},
      {with("card_number", "4242 4242 4242 4241"),
       {"payment.card_number"},
       "is not a valid card number"},
      {with("card_number", "4242x4242x4242x4242"),
       {"payment.card_number"},
       "must contain only digits"},
      {with("card_number", ""), {"payment.card_number"}, "is required"},
      {with("card_number", 4242424242424242), {"payment.card_number"}, "is required"},
      {with("card_number", "5555555555554444"),
       {"payment.card_number"},
       ""},  // a Mastercard as visa
      {with("card_number", "42424242424242"), {"payment.card_number"}, ""},
      {with("method", "mastercard"), {"payment.card_number"}, ""},  // a Visa as mastercard
      {with("expiry", "10/26"), {"payment.expiry"}, "has expired"},
      {with("expiry", "13/27"), {"payment.expiry"}, "must be MM/YY"},
      {with("expiry", "2027-12"), {"payment.expiry"}, "must be MM/YY"},
      {with("cvv", "12"), {"payment.cvv"}, "must be exactly 3 digits"},
      {with("cvv", "1234"), {"payment.cvv"}, "must be exactly 3 digits"},
      {with("cvv", "12a"), {"payment.cvv"}, "must be exactly 3 digits"},
      {with("cvv", 123), {"payment.cvv"}, "is required"},
      {{{"method", "visa"}},
       {"payment.card_number", "payment.expiry", "payment.cvv"},
       "is required"},
      {{{"method", "paypal"}}, {"payment.paypal_email"}, "is required"},
      {{{"method", "paypal"}, {"paypal_email", "not-an-email"}},
       {"payment.paypal_email"},
       "is not a valid email address"},
  };
  for (const auto& c : cases) {
    Result<PaymentMethod> r = parse_payment_method(c.payment, fixed_now());
    ASSERT_FALSE(r.ok()) << c.payment.dump();
    EXPECT_EQ(r.error().code, codes::kInvalidArgument);
    EXPECT_FALSE(r.error().retryable);
    EXPECT_EQ(field_names(r.error()), c.fields) << c.payment.dump();
    if (!c.message.empty() && !r.error().fields.empty()) {
      EXPECT_EQ(r.error().fields[0].message, c.message) << c.payment.dump();
    }
    // Never echo a card number back.
    EXPECT_EQ(r.error().message.find("4242424242424242"), std::string::npos);
  }
}

TEST(ParsePaymentMethod, PaypalIgnoresCardFieldsAndCardsIgnoreTheAddress) {
  EXPECT_TRUE(
      parse_payment_method({{"method", "paypal"}, {"paypal_email", "a@b.co"}, {"card_number", "x"}},
                           fixed_now())
          .ok());
  EXPECT_TRUE(parse_payment_method({{"method", "visa"},
                                    {"card_number", "4242424242424242"},
                                    {"expiry", "12/27"},
                                    {"cvv", "123"},
                                    {"paypal_email", "nonsense"}},
                                   fixed_now())
                  .ok());
}

}  // namespace
}  // namespace wonderland::payment
