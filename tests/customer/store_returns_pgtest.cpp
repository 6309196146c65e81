// The customer store's returns against the real PostgreSQL (WONDERLAND_PG_URL), each test in a
// schema of its own: checking and recording a return of order lines, its outcome, and listing.
#include <gtest/gtest.h>

#include "pg_fixture.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"

namespace wonderland::customer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAlice = "978-1";  // bought 2 at 999 (record_order, pg_fixture.hpp)
constexpr const char* kGlass = "978-2";  // bought 1 at 1500

json line(const std::string& isbn, int quantity) {
  return json{{"isbn", isbn}, {"quantity", quantity}};
}

class ReturnsPgTest : public CustomerPgTest {
 protected:
  ReturnsPgTest() : alice_(sign_up("alice")), bob_(sign_up("bob")) {
    // Whole milliseconds, as stored: the window's end is then exactly 30 days after.
    now_ = std::chrono::time_point_cast<std::chrono::milliseconds>(now_);
    order_created_ = now_;
    order_ = record_order(alice_);
  }

  static json request(const std::string& return_id, const std::string& customer_id,
                      const std::string& order_id, json lines) {
    return json{{"return_id", return_id},
                {"customer_id", customer_id},
                {"order_id", order_id},
                {"lines", std::move(lines)}};
  }

  /// Records a return of `lines` of alice's order; returns its id.
  std::string record(json lines) {
    std::string return_id = new_uuid();
    auto r = store_->record_return(request(return_id, alice_, order_, std::move(lines)));
    EXPECT_TRUE(r.ok()) << error_text(r.error());
    return return_id;
  }

  int count(const std::string& table) {
    return query("SELECT count(*) FROM " + table)[0][0].as<int>();
  }

  std::string alice_;
  std::string bob_;
  SystemTime order_created_;
  std::string order_;
};

TEST_F(ReturnsPgTest, MigrationTwoCreatesTheReturnTables) {
  EXPECT_EQ(applied_migrations(db_), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(count("returns"), 0);
  EXPECT_EQ(count("return_lines"), 0);
}

TEST_F(ReturnsPgTest, CheckAndRecordPriceTheLinesAtWhatWasPaid) {
  const std::string return_id = new_uuid();
  const json body = request(return_id, alice_, order_, {line(kAlice, 2), line(kGlass, 1)});
  const json lines = json::array({{{"isbn", kAlice},
                                   {"title", "Alice"},
                                   {"quantity", 2},
                                   {"unit_price_cents", 999},
                                   {"refund_cents", 1998}},
                                  {{"isbn", kGlass},
                                   {"title", "Through the Looking-Glass"},
                                   {"quantity", 1},
                                   {"unit_price_cents", 1500},
                                   {"refund_cents", 1500}}});
  json expected{{"return_id", return_id},
                {"order_id", order_},
                {"lines", lines},
                {"refund_cents", 3498},
                {"existing", false}};

  auto checked = store_->check_return(body);
  ASSERT_TRUE(checked.ok()) << error_text(checked.error());
  EXPECT_EQ(checked.value(), expected);
  EXPECT_EQ(count("returns"), 0);  // check is read-only

  auto recorded = store_->record_return(body);
  ASSERT_TRUE(recorded.ok()) << error_text(recorded.error());
  expected["status"] = "awaiting_parcel";
  EXPECT_EQ(recorded.value(), expected);
  EXPECT_EQ(count("returns"), 1);
  EXPECT_EQ(count("return_lines"), 2);

  auto again = store_->check_return(body);
  ASSERT_TRUE(again.ok()) << error_text(again.error());
  EXPECT_EQ(again.value()["existing"], true);
  EXPECT_EQ(again.value()["lines"], lines);
}

TEST_F(ReturnsPgTest, PartOfALineIsRefundedAtTheUnitPrice) {
  auto r = store_->check_return(request(new_uuid(), alice_, order_, {line(kAlice, 1)}));
  ASSERT_TRUE(r.ok()) << error_text(r.error());
  EXPECT_EQ(r.value()["refund_cents"], 999);
  EXPECT_EQ(r.value()["lines"][0]["refund_cents"], 999);
}

TEST_F(ReturnsPgTest, RecordingTheSameReturnIdAgainRepliesTheSame) {
  const std::string return_id = new_uuid();
  const json body = request(return_id, alice_, order_, {line(kGlass, 1)});
  auto first = store_->record_return(body);
  ASSERT_TRUE(first.ok()) << error_text(first.error());
  now_ += 40 * 24h;  // a retry long after is still answered, the window notwithstanding
  auto again = store_->record_return(body);
  ASSERT_TRUE(again.ok()) << error_text(again.error());
  json expected = first.value();
  expected["existing"] = true;
  EXPECT_EQ(again.value(), expected);
  EXPECT_EQ(count("returns"), 1);
  EXPECT_EQ(count("return_lines"), 1);
}

TEST_F(ReturnsPgTest, ALineInAnotherReturnIsAConflict) {
  const std::string first = record({line(kAlice, 1)});
  for (auto op : {&Store::check_return, &Store::record_return}) {
    auto r =
        ((*store_).*op)(request(new_uuid(), alice_, order_, {line(kGlass, 1), line(kAlice, 1)}));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(),
              (Error{codes::kConflict,
                     std::string("the line ") + kAlice + " is already in return " + first, false}));
  }
  EXPECT_EQ(count("returns"), 1);
  // The other line of the order is still free.
  auto other = store_->record_return(request(new_uuid(), alice_, order_, {line(kGlass, 1)}));
  EXPECT_TRUE(other.ok()) << error_text(other.error());
}

TEST_F(ReturnsPgTest, ALineNotBoughtOrAboveWhatWasBoughtIsInvalidNamingTheLine) {
  auto more =
      store_->check_return(request(new_uuid(), alice_, order_, {line(kGlass, 1), line(kAlice, 3)}));
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.error().code, codes::kInvalidArgument);
  EXPECT_EQ(more.error().message, "lines[1].quantity: 3 is more than the 2 bought");
  ASSERT_EQ(more.error().fields.size(), 1u);
  EXPECT_EQ(more.error().fields[0].field, "lines[1].quantity");
  EXPECT_FALSE(more.error().retryable);

  auto unknown = store_->record_return(request(new_uuid(), alice_, order_, {line("978-9", 1)}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, codes::kInvalidArgument);
  EXPECT_EQ(unknown.error().message, "lines[0].isbn: 978-9 is not in order " + order_);
  EXPECT_EQ(count("returns"), 0);
}

TEST_F(ReturnsPgTest, MalformedRequestsNameTheirFields) {
  auto empty = store_->check_return(request(new_uuid(), alice_, order_, json::array()));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, codes::kInvalidArgument);
  ASSERT_EQ(empty.error().fields.size(), 1u);
  EXPECT_EQ(empty.error().fields[0].field, "lines");

  auto bad =
      store_->check_return(json{{"return_id", "nope"},
                                {"customer_id", alice_},
                                {"order_id", order_},
                                {"lines", {line(kAlice, 0), line(kGlass, 1), line(kGlass, 1)}}});
  ASSERT_FALSE(bad.ok());
  std::vector<std::string> fields;
  for (const auto& f : bad.error().fields)
    fields.push_back(f.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"return_id", "lines[0].quantity", "lines[2].isbn"}));

  auto not_object = store_->record_return(json::array());
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.error().code, codes::kInvalidArgument);
}

TEST_F(ReturnsPgTest, AnotherCustomersOrderIsNotFoundInTheSameWords) {
  const json lines = {line(kAlice, 1)};
  auto stolen = store_->check_return(request(new_uuid(), bob_, order_, lines));
  ASSERT_FALSE(stolen.ok());
  EXPECT_EQ(stolen.error(), (Error{codes::kNotFound, "no order '" + order_ + "'", false}));
  EXPECT_FALSE(store_->record_return(request(new_uuid(), bob_, order_, lines)).ok());

  const std::string unknown = new_uuid();
  auto missing = store_->record_return(request(new_uuid(), alice_, unknown, lines));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), (Error{codes::kNotFound, "no order '" + unknown + "'", false}));
  EXPECT_EQ(count("returns"), 0);
}

TEST_F(ReturnsPgTest, AReturnIdOfAnotherOrderIsAConflict) {
  const std::string return_id = record({line(kAlice, 1)});
  const std::string other_order = record_order(alice_);
  auto r = store_->record_return(request(return_id, alice_, other_order, {line(kAlice, 1)}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kConflict);
}

TEST_F(ReturnsPgTest, AfterTheWindowALineCannotBeReturned) {
  const json body = request(new_uuid(), alice_, order_, {line(kAlice, 1)});
  now_ = order_created_ + 30 * 24h;  // the last moment of the window
  EXPECT_TRUE(store_->check_return(body).ok());
  now_ += 1s;
  auto late = store_->record_return(body);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, codes::kFailedPrecondition);
  EXPECT_EQ(late.error().message, "the return window of 30 days for this order ended on " +
                                      format_iso8601(order_created_ + 30 * 24h));
  EXPECT_FALSE(late.error().retryable);
  EXPECT_EQ(count("returns"), 0);

  // A window of 0 days ends when the order is recorded.
  StoreOptions o = options();
  o.return_window_days = 0;
  Store strict(db_, o);
  const std::string fresh = record_order(alice_);
  now_ += 1s;
  auto closed = strict.check_return(request(new_uuid(), alice_, fresh, {line(kAlice, 1)}));
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.error().code, codes::kFailedPrecondition);
  EXPECT_NE(closed.error().message.find("of 0 days"), std::string::npos) << closed.error().message;
}

TEST_F(ReturnsPgTest, CompleteMarksRefundedOnce) {
  const std::string return_id = record({line(kAlice, 2)});
  now_ += 1h;
  auto done = store_->complete_return(json{{"return_id", return_id}, {"refund_cents", 1998}});
  ASSERT_TRUE(done.ok()) << error_text(done.error());
  EXPECT_EQ(done.value()["status"], "refunded");
  EXPECT_EQ(done.value()["refund_cents"], 1998);
  EXPECT_EQ(done.value()["updated_at"], format_iso8601(now_));
  now_ += 1h;
  auto again = store_->complete_return(json{{"return_id", return_id}, {"refund_cents", 1998}});
  ASSERT_TRUE(again.ok()) << error_text(again.error());
  EXPECT_EQ(again.value(), done.value());

  const std::string unknown = new_uuid();
  auto missing = store_->complete_return(json{{"return_id", unknown}, {"refund_cents", 1}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), (Error{codes::kNotFound, "no return '" + unknown + "'", false}));
  auto negative = store_->complete_return(json{{"return_id", return_id}, {"refund_cents", -1}});
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().code, codes::kInvalidArgument);
}

TEST_F(ReturnsPgTest, CloseSetsItsStatusOnceAndNeverOverridesRefunded) {
  const std::string refunded = record({line(kAlice, 1)});
  ASSERT_TRUE(store_->complete_return(json{{"return_id", refunded}, {"refund_cents", 999}}).ok());
  auto kept = store_->close_return(json{{"return_id", refunded}, {"status", "expired"}});
  ASSERT_TRUE(kept.ok()) << error_text(kept.error());
  EXPECT_EQ(kept.value()["status"], "refunded");

  const std::string waiting = record({line(kGlass, 1)});
  now_ += 1h;
  const json close{{"return_id", waiting}, {"status", "expired"}, {"reason", "no parcel"}};
  auto expired = store_->close_return(close);
  ASSERT_TRUE(expired.ok()) << error_text(expired.error());
  EXPECT_EQ(expired.value()["status"], "expired");
  EXPECT_EQ(expired.value()["reason"], "no parcel");
  now_ += 1h;
  auto again = store_->close_return(close);
  ASSERT_TRUE(again.ok()) << error_text(again.error());
  EXPECT_EQ(again.value(), expired.value());  // updated_at unchanged

  auto failed = store_->close_return(json{{"return_id", waiting}, {"status", "failed"}});
  ASSERT_TRUE(failed.ok()) << error_text(failed.error());
  EXPECT_EQ(failed.value()["status"], "failed");
  EXPECT_EQ(failed.value()["reason"], "no parcel");

  auto wrong = store_->close_return(json{{"return_id", waiting}, {"status", "refunded"}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, codes::kInvalidArgument);
  auto missing = store_->close_return(json{{"return_id", new_uuid()}, {"status", "failed"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, codes::kNotFound);
}

TEST_F(ReturnsPgTest, ListIsNewestFirstAndGetIsTheCustomersOwn) {
  const std::string first = record({line(kAlice, 1)});
  now_ += 1s;
  const std::string other_order = record_order(alice_);
  auto second = store_->record_return(request(new_uuid(), alice_, other_order, {line(kGlass, 1)}));
  ASSERT_TRUE(second.ok()) << error_text(second.error());
  const std::string second_id = second.value()["return_id"].get<std::string>();

  auto all = store_->list_returns(json{{"customer_id", alice_}});
  ASSERT_TRUE(all.ok()) << error_text(all.error());
  const json& returns = all.value()["returns"];
  ASSERT_EQ(returns.size(), 2u);
  EXPECT_EQ(returns[0]["return_id"], second_id);
  EXPECT_EQ(returns[1]["return_id"], first);
  EXPECT_EQ(returns[1]["order_id"], order_);
  EXPECT_EQ(returns[1]["status"], "awaiting_parcel");
  EXPECT_EQ(returns[1]["refund_cents"], 999);
  EXPECT_EQ(returns[1]["lines"].size(), 1u);
  EXPECT_EQ(returns[1]["lines"][0]["title"], "Alice");
  EXPECT_FALSE(returns[1].contains("reason"));
  EXPECT_TRUE(parse_iso8601(returns[1]["created_at"].get<std::string>()).has_value());
  EXPECT_TRUE(parse_iso8601(returns[1]["updated_at"].get<std::string>()).has_value());

  auto of_order = store_->list_returns(json{{"customer_id", alice_}, {"order_id", order_}});
  ASSERT_TRUE(of_order.ok()) << error_text(of_order.error());
  ASSERT_EQ(of_order.value()["returns"].size(), 1u);
  EXPECT_EQ(of_order.value()["returns"][0]["return_id"], first);
  EXPECT_EQ(store_->list_returns(json{{"customer_id", bob_}}).value()["returns"], json::array());
  // The returns of alice's order, asked by bob, are answered as those of an unknown order.
  auto of_theirs = store_->list_returns(json{{"customer_id", bob_}, {"order_id", order_}});
  ASSERT_FALSE(of_theirs.ok());
  EXPECT_EQ(of_theirs.error(), (Error{codes::kNotFound, "no order '" + order_ + "'", false}));
  auto nobody = store_->list_returns(json{{"customer_id", new_uuid()}});
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error().code, codes::kNotFound);

  auto mine = store_->get_return(json{{"customer_id", alice_}, {"return_id", first}});
  ASSERT_TRUE(mine.ok()) << error_text(mine.error());
  EXPECT_EQ(mine.value(), returns[1]);
  auto theirs = store_->get_return(json{{"customer_id", bob_}, {"return_id", first}});
  ASSERT_FALSE(theirs.ok());
  EXPECT_EQ(theirs.error(), (Error{codes::kNotFound, "no return '" + first + "'", false}));
}

}  // namespace
}  // namespace wonderland::customer::test
