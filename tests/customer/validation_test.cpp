// Pure validation of customer command bodies.
#include "wonderland/customer/validation.hpp"

#include <gtest/gtest.h>

#include "database.hpp"

namespace wonderland::customer {
namespace {

using nlohmann::json;

std::vector<std::string> field_names(const Error& e) {
  std::vector<std::string> names;
  for (const auto& f : e.fields)
    names.push_back(f.field);
  return names;
}

std::string field_message(const Error& e, const std::string& field) {
  for (const auto& f : e.fields) {
    if (f.field == field)
      return f.message;
  }
  return "<no error for " + field + ">";
}

json valid_sign_up() {
  return json{{"username", "alice"},
              {"email", "alice@example.com"},
              {"password", "correct horse"},
              {"first_name", "Alice"},
              {"last_name", "Liddell"}};
}

TEST(Username, AcceptsLettersDigitsAndPunctuationWithinBounds) {
  EXPECT_EQ(username_problem("abc"), std::nullopt);
  EXPECT_EQ(username_problem("Alice.Liddell-1_x"), std::nullopt);
  EXPECT_EQ(username_problem(std::string(32, 'a')), std::nullopt);
}

TEST(Username, RejectsTooShortTooLongAndOtherCharacters) {
  const std::vector<std::string> bad_names = {"ab",
                                              "",
                                              std::string(33, 'a'),
                                              "al ice",
                                              "al@ce",
                                              "ali\xc3\xa7"
                                              "e",
                                              "a/b"};
  for (const auto& bad : bad_names) {
    EXPECT_NE(username_problem(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(*username_problem("ab"),
            "must be 3 to 32 characters: letters, digits, '_', '.' or '-'");
}

TEST(Email, AcceptsUsualAddresses) {
  for (const char* good :
       {"alice@example.com", "a.b+tag@sub.example.co.uk", "X@Y.io", "a@b-c.de"}) {
    EXPECT_EQ(email_problem(good), std::nullopt) << good;
  }
}

TEST(Email, RejectsWhatIsNotAnAddress) {
  for (const char* bad :
       {"", "alice", "alice@", "@example.com", "a@b", "a@@b.com", "a@b@c.com", "a b@c.com",
        "a@-b.com", "a@b..com", "a@b.com.", "a@.b.com", "a@b.com\n"}) {
    EXPECT_NE(email_problem(bad), std::nullopt) << bad;
  }
  EXPECT_NE(email_problem(std::string(65, 'a') + "@example.com"), std::nullopt);
}

TEST(Password, CountsCharactersNotBytes) {
  EXPECT_EQ(*password_problem("1234567"), "must be at least 8 characters");
  EXPECT_EQ(password_problem("12345678"), std::nullopt);
  EXPECT_EQ(password_problem("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
            std::nullopt);
  EXPECT_NE(password_problem("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
            std::nullopt);  // 8 bytes, 4 characters
  EXPECT_NE(password_problem(std::string(257, 'x')), std::nullopt);
  EXPECT_EQ(utf8_length("h\xc3\xa9llo"), 5u);
}

TEST(Phone, AcceptsCommonNotations) {
  EXPECT_EQ(phone_problem("+44 20 7946 0958"), std::nullopt);
  EXPECT_EQ(phone_problem("(555) 123-4567"), std::nullopt);
  EXPECT_NE(phone_problem("12345"), std::nullopt);
  EXPECT_NE(phone_problem("call me maybe"), std::nullopt);
  EXPECT_NE(phone_problem("+-() -+"), std::nullopt);
}

TEST(Isbn, AcceptsDigitsLettersAndHyphens) {
  EXPECT_EQ(isbn_problem("978-0-14-143976-1"), std::nullopt);
  EXPECT_EQ(isbn_problem("014143976X"), std::nullopt);
  EXPECT_NE(isbn_problem(""), std::nullopt);
  EXPECT_NE(isbn_problem("978 0"), std::nullopt);
  EXPECT_NE(isbn_problem(std::string(33, '1')), std::nullopt);
}

TEST(SignUp, ValidBodyIsTrimmedAndKeepsThePasswordAsGiven) {
  json body = valid_sign_up();
  body["username"] = "  Alice ";
  body["first_name"] = " Alice";
  body["password"] = " spaces count ";
  body["phone"] = "";
  body["address"] = {
      {"line1", "1 Rabbit Hole"}, {"city", "Oxford"}, {"postal_code", "OX1"}, {"country", "UK"}};
  auto r = parse_sign_up(body);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->username, "Alice");
  EXPECT_EQ(r->first_name, "Alice");
  EXPECT_EQ(r->password, " spaces count ");
  EXPECT_EQ(r->phone, std::nullopt);
  ASSERT_TRUE(r->address.has_value());
  EXPECT_EQ(r->address->line2, std::nullopt);
  EXPECT_EQ(r->address->city, "Oxford");
}

TEST(SignUp, EveryMissingFieldIsReported) {
  auto r = parse_sign_up(json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInvalidArgument);
  EXPECT_FALSE(r.error().retryable);
  EXPECT_EQ(field_names(r.error()),
            (std::vector<std::string>{"username", "email", "password", "first_name", "last_name"}));
  EXPECT_EQ(field_message(r.error(), "first_name"), "is required");
  EXPECT_EQ(r.error().message.rfind("username is required; email is required", 0), 0u)
      << r.error().message;
}

TEST(SignUp, WrongValuesAreReportedPerField) {
  json body = valid_sign_up();
  body["username"] = "a!";
  body["email"] = "not-an-email";
  body["password"] = "short";
  body["last_name"] = "   ";
  body["phone"] = "abc";
  body["address"] = {{"line1", "1 Rabbit Hole"}, {"city", 42}, {"country", "UK"}};
  auto r = parse_sign_up(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(field_names(r.error()),
            (std::vector<std::string>{"username", "email", "password", "last_name", "phone",
                                      "address.city", "address.postal_code"}));
  EXPECT_EQ(field_message(r.error(), "password"), "must be at least 8 characters");
  EXPECT_EQ(field_message(r.error(), "address.city"), "must be a string");
  EXPECT_EQ(field_message(r.error(), "address.postal_code"), "is required");
}

TEST(SignUp, NonObjectBodyIsRejected) {
  auto r = parse_sign_up(json::array());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(field_names(r.error()), std::vector<std::string>{"body"});
}

TEST(SignUp, MistypedFieldsSayWhatIsExpected) {
  json body = valid_sign_up();
  body["email"] = 7;
  body["address"] = "Oxford";
  auto r = parse_sign_up(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(field_message(r.error(), "email"), "must be a string");
  EXPECT_EQ(field_message(r.error(), "address"), "must be an object");
}

TEST(Address, ReportsFieldsUnderThePrefix) {
  auto r = parse_address(json{{"line1", "x"}, {"city", "y"}, {"postal_code", "z"}}, "address");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(field_names(r.error()), std::vector<std::string>{"address.country"});
  auto ok = parse_address(json{
      {"line1", "x"}, {"line2", "flat 2"}, {"city", "y"}, {"postal_code", "z"}, {"country", "c"}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(to_json(*ok)["line2"], "flat 2");
}

TEST(BasketItem, AtMostThreeCopiesOfOneTitle) {
  const std::string id = "0b6f2c8e-2d4a-4c47-9b8e-3f1f1b2a7c10";
  auto r = parse_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 4}}, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInvalidArgument);
  EXPECT_EQ(field_message(r.error(), "quantity"), "at most 3 copies of one title");
  auto huge = parse_basket_item(
      json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 18446744073709551615ULL}}, 0);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(field_message(huge.error(), "quantity"), "at most 3 copies of one title");
}

TEST(BasketItem, QuantityBoundsAndTypes) {
  const std::string id = "0B6F2C8E-2D4A-4C47-9B8E-3F1F1B2A7C10";
  auto zero = parse_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 0}}, 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->quantity, 0);
  EXPECT_EQ(zero->customer_id, "0b6f2c8e-2d4a-4c47-9b8e-3f1f1b2a7c10");
  auto negative =
      parse_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", -1}}, 0);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(field_message(negative.error(), "quantity"), "must be between 0 and 3");
  auto text = parse_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", "2"}}, 0);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(field_message(text.error(), "quantity"), "must be an integer");
  auto defaulted = parse_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}}, 1, 1);
  ASSERT_TRUE(defaulted.ok());
  EXPECT_EQ(defaulted->quantity, 1);
  auto missing = parse_basket_item(json{{"customer_id", "nope"}, {"isbn", "9 7"}}, 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(field_names(missing.error()),
            (std::vector<std::string>{"customer_id", "isbn", "quantity"}));
}

TEST(OrderRecord, NeedsIdsItemsTotalAndStatus) {
  auto r = parse_order_record(
      json{{"customer_id", "x"}, {"items", json::object()}, {"total_cents", -5}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(field_names(r.error()), (std::vector<std::string>{"customer_id", "order_id", "items",
                                                              "total_cents", "status"}));
  auto ok = parse_order_record(json{{"customer_id", "0b6f2c8e-2d4a-4c47-9b8e-3f1f1b2a7c10"},
                                    {"order_id", "1b6f2c8e-2d4a-4c47-9b8e-3f1f1b2a7c10"},
                                    {"items", json::array({{{"isbn", "1"}, {"quantity", 1}}})},
                                    {"total_cents", 1999},
                                    {"status", "confirmed"}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->total_cents, 1999);
}

TEST(ReturnRequest, ReadsLinesAndNamesEachWrongOne) {
  const std::string id = "0b0e6a8e-3c0e-4d4e-9b8a-1f2e3d4c5b6a";
  json body{{"return_id", id},
            {"customer_id", id},
            {"order_id", id},
            {"lines", json::array({{{"isbn", " 978-1 "}, {"quantity", 2}}})}};
  auto ok = parse_return_request(body);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_EQ(ok->lines.size(), 1u);
  EXPECT_EQ(ok->lines[0].isbn, "978-1");
  EXPECT_EQ(ok->lines[0].quantity, 2);

  body["lines"] = json::array({{{"isbn", "978 1"}, {"quantity", 1}},
                               {{"isbn", "978-2"}},
                               "978-3",
                               {{"isbn", "978-2"}, {"quantity", 1}}});
  auto bad = parse_return_request(body);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(field_names(bad.error()),
            (std::vector<std::string>{"lines[0].isbn", "lines[1].quantity", "lines[2]",
                                      "lines[3].isbn"}));
  EXPECT_EQ(field_message(bad.error(), "lines[3].isbn"), "appears more than once");

  body["lines"] = json::array();
  EXPECT_EQ(field_names(parse_return_request(body).error()), std::vector<std::string>{"lines"});
  body["lines"] = json::array();
  for (int i = 0; i < 101; ++i)
    body["lines"].push_back({{"isbn", "978-" + std::to_string(i)}, {"quantity", 1}});
  EXPECT_EQ(field_names(parse_return_request(body).error()), std::vector<std::string>{"lines"});
  body.erase("lines");
  EXPECT_EQ(field_names(parse_return_request(body).error()), std::vector<std::string>{"lines"});
}

TEST(ReturnRequest, CloseTakesExpiredOrFailedAndCompleteANonNegativeRefund) {
  const std::string id = "0b0e6a8e-3c0e-4d4e-9b8a-1f2e3d4c5b6a";
  auto expired = parse_close_return(json{{"return_id", id}, {"status", "expired"}});
  ASSERT_TRUE(expired.ok()) << expired.error().message;
  EXPECT_EQ(expired->reason, std::nullopt);
  auto failed =
      parse_close_return(json{{"return_id", id}, {"status", "failed"}, {"reason", "lost"}});
  ASSERT_TRUE(failed.ok()) << failed.error().message;
  EXPECT_EQ(failed->reason, "lost");
  auto refunded = parse_close_return(json{{"return_id", id}, {"status", "refunded"}});
  ASSERT_FALSE(refunded.ok());
  EXPECT_EQ(field_names(refunded.error()), std::vector<std::string>{"status"});

  EXPECT_EQ(parse_complete_return(json{{"return_id", id}, {"refund_cents", 0}})->refund_cents, 0);
  auto negative = parse_complete_return(json{{"return_id", id}, {"refund_cents", -5}});
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(field_names(negative.error()), std::vector<std::string>{"refund_cents"});
}

TEST(Schema, NamesAreRestrictedToSafeIdentifiers) {
  EXPECT_TRUE(valid_schema_name("customer"));
  EXPECT_TRUE(valid_schema_name("test_0a1b"));
  EXPECT_FALSE(valid_schema_name(""));
  EXPECT_FALSE(valid_schema_name("Customer"));
  EXPECT_FALSE(valid_schema_name("1abc"));
  EXPECT_FALSE(valid_schema_name("pg_catalog"));
  EXPECT_FALSE(valid_schema_name("a\"; DROP SCHEMA x; --"));
  EXPECT_FALSE(valid_schema_name(std::string(64, 'a')));
  EXPECT_THROW(Database("postgresql://x", "Bad-Name"), std::invalid_argument);
}

}  // namespace
}  // namespace wonderland::customer
