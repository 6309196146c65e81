// The customer store against the real PostgreSQL (WONDERLAND_PG_URL), each test in a schema of
// its own.
#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "idempotency_store.hpp"
#include "outbox.hpp"
#include "pg_fixture.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::customer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::vector<std::string> field_names(const Error& e) {
  std::vector<std::string> names;
  for (const auto& f : e.fields)
    names.push_back(f.field);
  return names;
}

json items_of(const Result<json>& r) {
  return r.ok() ? r.value()["items"] : json("error: " + r.error().message);
}

json item(const std::string& isbn, int quantity) {
  return json{{"isbn", isbn}, {"quantity", quantity}};
}

/// Whether another session of the database at `url` waits for a lock that `holder`'s session
/// holds.
bool someone_waits_for(const std::string& url, pqxx::connection& holder) {
  pqxx::connection watcher(url);
  pqxx::nontransaction w(watcher);
  return w.exec_params(
              "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
              holder.backendpid())[0][0]
             .as<int>() > 0;
}

TEST_F(CustomerPgTest, MigrationsAreIdempotent) {
  EXPECT_EQ(migrate(db_), 0);
  Database again(schema_.url(), schema_.name());
  EXPECT_EQ(migrate(again), 0);
  EXPECT_EQ(applied_migrations(db_), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(query("SELECT count(*) FROM schema_migrations")[0][0].as<int>(),
            static_cast<int>(migrations().size()));
}

TEST_F(CustomerPgTest, ConcurrentStartersMigrateAFreshSchemaOnce) {
  testing::ScopedSchema fresh("customer_fresh");
  std::atomic<int> applied{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> starters;
  for (int i = 0; i < 3; ++i) {
    starters.emplace_back([&] {
      try {
        Database db(fresh.url(), fresh.name());
        applied += migrate(db);
      } catch (const std::exception& e) {
        ++failures;
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : starters)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(applied.load(), static_cast<int>(migrations().size()));
}

TEST_F(CustomerPgTest, SignUpReturnsTheProfileAndNeverThePassword) {
  json body = sign_up_body("alice");
  body["phone"] = "+44 20 7946 0958";
  body["address"] = {{"line1", "1 Rabbit Hole"},
                     {"city", "Oxford"},
                     {"postal_code", "OX1 1AA"},
                     {"country", "UK"}};
  auto r = store_->sign_up(body);
  ASSERT_TRUE(r.ok()) << error_text(r.error());
  const json& p = r.value();
  EXPECT_TRUE(is_uuid(p["customer_id"].get<std::string>()));
  EXPECT_EQ(p["username"], "alice");
  EXPECT_EQ(p["email"], "alice@example.com");
  EXPECT_EQ(p["first_name"], "First alice");
  EXPECT_EQ(p["last_name"], "Last");
  EXPECT_EQ(p["phone"], "+44 20 7946 0958");
  ASSERT_EQ(p["addresses"].size(), 1u);
  EXPECT_EQ(p["addresses"][0], (json{{"line1", "1 Rabbit Hole"},
                                     {"line2", nullptr},
                                     {"city", "Oxford"},
                                     {"postal_code", "OX1 1AA"},
                                     {"country", "UK"}}));
  EXPECT_EQ(p["created_at"],
            format_iso8601(std::chrono::time_point_cast<std::chrono::milliseconds>(now_)));
  EXPECT_EQ(p.dump().find("password"), std::string::npos);
  EXPECT_EQ(p.dump().find("correct horse"), std::string::npos);

  auto fetched = store_->get_profile(json{{"customer_id", p["customer_id"]}});
  ASSERT_TRUE(fetched.ok());
  EXPECT_EQ(fetched.value(), p);
}

TEST_F(CustomerPgTest, PasswordIsStoredOnlyAsAnArgon2idHash) {
  Store real_cost(db_, StoreOptions{});  // the default policy, as in production
  auto r = real_cost.sign_up(sign_up_body("hatter"));
  ASSERT_TRUE(r.ok()) << error_text(r.error());
  auto rows = query("SELECT password_hash, row_to_json(customers)::text FROM customers");
  ASSERT_EQ(rows.size(), 1u);
  std::string hash = rows[0][0].as<std::string>();
  EXPECT_EQ(hash.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << hash;
  EXPECT_EQ(rows[0][1].as<std::string>().find("correct horse hatter"), std::string::npos);
  // Nothing else in the schema holds the password either (outbox, addresses, ...).
  auto everywhere = query(
      "SELECT (SELECT coalesce(string_agg(envelope, ''), '') FROM outbox) ||"
      "       (SELECT coalesce(string_agg(row_to_json(a)::text, ''), '') FROM addresses a)");
  EXPECT_EQ(everywhere[0][0].as<std::string>().find("correct horse"), std::string::npos);
}

TEST_F(CustomerPgTest, SignUpValidationErrorsNameTheFields) {
  json body = sign_up_body("al");
  body["email"] = "nope";
  body["password"] = "short";
  auto r = store_->sign_up(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInvalidArgument);
  EXPECT_EQ(field_names(r.error()), (std::vector<std::string>{"username", "email", "password"}));
  EXPECT_EQ(query("SELECT count(*) FROM customers")[0][0].as<int>(), 0);
}

TEST_F(CustomerPgTest, TakenUsernameOrEmailIsAConflictWhateverTheCase) {
  sign_up("alice");
  auto same_name = store_->sign_up(sign_up_body("ALICE", "other@example.com"));
  ASSERT_FALSE(same_name.ok());
  EXPECT_EQ(same_name.error(), (Error{codes::kConflict,
                                      "username is taken",
                                      false,
                                      {FieldError{"username", "username is taken"}}}));

  auto same_email = store_->sign_up(sign_up_body("alice2", "Alice@Example.COM"));
  ASSERT_FALSE(same_email.ok());
  EXPECT_EQ(same_email.error(), (Error{codes::kConflict,
                                       "email is already registered",
                                       false,
                                       {FieldError{"email", "email is already registered"}}}));

  auto both = store_->sign_up(sign_up_body("Alice", "alice@example.com"));
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().message, "username is taken");
  EXPECT_EQ(field_names(both.error()), (std::vector<std::string>{"username", "email"}));
  EXPECT_EQ(query("SELECT count(*) FROM customers")[0][0].as<int>(), 1);
  EXPECT_EQ(pending_events(db_), 1);  // only the successful sign-up announced itself
}

TEST_F(CustomerPgTest, SignInSignOutAndAuthenticate) {
  std::string id = sign_up("alice");
  auto signed_in =
      store_->sign_in(json{{"username", "Alice"}, {"password", "correct horse alice"}});
  ASSERT_TRUE(signed_in.ok()) << error_text(signed_in.error());
  std::string token = signed_in.value()["token"];
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(signed_in.value()["customer_id"], id);
  EXPECT_EQ(signed_in.value()["expires_at"],
            format_iso8601(std::chrono::time_point_cast<std::chrono::milliseconds>(now_ + 1h)));

  // Only the token's digest is stored.
  auto sessions = query("SELECT token_sha256 FROM sessions");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0][0].as<std::string>(), token_digest(token));
  EXPECT_NE(sessions[0][0].as<std::string>(), token);

  auto me = store_->authenticate(json{{"token", token}});
  ASSERT_TRUE(me.ok()) << error_text(me.error());
  EXPECT_EQ(me.value()["customer_id"], id);
  EXPECT_EQ(me.value()["username"], "alice");

  ASSERT_TRUE(store_->sign_out(json{{"token", token}}).ok());
  auto after = store_->authenticate(json{{"token", token}});
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, codes::kUnauthenticated);
  EXPECT_TRUE(store_->sign_out(json{{"token", token}}).ok());  // signing out twice is fine
}

TEST_F(CustomerPgTest, WrongPasswordAndUnknownUserGetTheSameAnswer) {
  sign_up("alice");
  auto wrong = store_->sign_in(json{{"username", "alice"}, {"password", "correct horse ALICE"}});
  auto unknown = store_->sign_in(json{{"username", "bob"}, {"password", "correct horse alice"}});
  ASSERT_FALSE(wrong.ok());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(wrong.error(), (Error{codes::kUnauthenticated, "Invalid username or password", false}));
  EXPECT_EQ(unknown.error(), wrong.error());
  auto missing = store_->sign_in(json{{"username", "alice"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, codes::kInvalidArgument);
  EXPECT_EQ(field_names(missing.error()), std::vector<std::string>{"password"});
  EXPECT_EQ(query("SELECT count(*) FROM sessions")[0][0].as<int>(), 0);
}

TEST_F(CustomerPgTest, ExpiredOrUnknownTokensAreRejected) {
  sign_up("alice");
  auto signed_in =
      store_->sign_in(json{{"username", "alice"}, {"password", "correct horse alice"}});
  ASSERT_TRUE(signed_in.ok());
  json token{{"token", signed_in.value()["token"]}};
  now_ += 59min;
  EXPECT_TRUE(store_->authenticate(token).ok());
  now_ += 1min;
  auto expired = store_->authenticate(token);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, codes::kUnauthenticated);
  EXPECT_FALSE(expired.error().retryable);

  for (const json& bad : {json{{"token", new_session_token()}}, json{{"token", ""}}, json::object(),
                          json{{"token", 42}}}) {
    auto r = store_->authenticate(bad);
    ASSERT_FALSE(r.ok()) << bad.dump();
    EXPECT_EQ(r.error().code, codes::kUnauthenticated);
  }
  // Signing in again clears the customer's expired sessions.
  ASSERT_TRUE(
      store_->sign_in(json{{"username", "alice"}, {"password", "correct horse alice"}}).ok());
  EXPECT_EQ(query("SELECT count(*) FROM sessions")[0][0].as<int>(), 1);
}

TEST_F(CustomerPgTest, AHashMadeUnderAnotherPolicyIsUpgradedAtSignIn) {
  sign_up("alice");
  StoreOptions stronger = options();
  stronger.password.opslimit = 2;
  Store upgraded(db_, stronger);
  ASSERT_TRUE(
      upgraded.sign_in(json{{"username", "alice"}, {"password", "correct horse alice"}}).ok());
  std::string hash = query("SELECT password_hash FROM customers")[0][0].as<std::string>();
  EXPECT_NE(hash.find(",t=2,"), std::string::npos) << hash;
  EXPECT_TRUE(
      store_->sign_in(json{{"username", "alice"}, {"password", "correct horse alice"}}).ok());
}

TEST_F(CustomerPgTest, ProfileAndAddresses) {
  std::string id = sign_up("alice");
  auto r = store_->add_address(json{{"customer_id", id},
                                    {"address",
                                     {{"line1", "2 Looking Glass Ln"},
                                      {"line2", "Flat 3"},
                                      {"city", "Oxford"},
                                      {"postal_code", "OX2"},
                                      {"country", "UK"}}}});
  ASSERT_TRUE(r.ok()) << error_text(r.error());
  ASSERT_EQ(r.value()["addresses"].size(), 1u);
  EXPECT_EQ(r.value()["addresses"][0]["line2"], "Flat 3");
  auto bad = store_->add_address(json{{"customer_id", id}, {"address", {{"line1", "x"}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(field_names(bad.error()),
            (std::vector<std::string>{"address.city", "address.postal_code", "address.country"}));
  auto nobody = store_->get_profile(json{{"customer_id", new_uuid()}});
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error().code, codes::kNotFound);
  auto malformed = store_->get_profile(json{{"customer_id", "42"}});
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code, codes::kInvalidArgument);
  EXPECT_EQ(field_names(malformed.error()), std::vector<std::string>{"customer_id"});
}

TEST_F(CustomerPgTest, BasketRules) {
  std::string id = sign_up("alice");
  auto set = [&](const std::string& isbn, json quantity) {
    return store_->set_basket_item(
        json{{"customer_id", id}, {"isbn", isbn}, {"quantity", quantity}});
  };
  EXPECT_EQ(items_of(store_->get_basket(json{{"customer_id", id}})), json::array());
  EXPECT_EQ(items_of(set("978-1", 2)), json::array({item("978-1", 2)}));
  now_ += 1s;
  EXPECT_EQ(items_of(set("978-2", 3)), json::array({item("978-1", 2), item("978-2", 3)}));
  EXPECT_EQ(items_of(set("978-1", 1)), json::array({item("978-1", 1), item("978-2", 3)}));

  auto too_many = set("978-1", 4);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, codes::kInvalidArgument);
  ASSERT_EQ(too_many.error().fields.size(), 1u);
  EXPECT_EQ(too_many.error().fields[0], (FieldError{"quantity", "at most 3 copies of one title"}));

  EXPECT_EQ(items_of(set("978-2", 0)), json::array({item("978-1", 1)}));  // 0 removes
  EXPECT_EQ(items_of(set("978-9", 0)),
            json::array({item("978-1", 1)}));  // removing nothing is fine

  // Adding counts what is in the basket already.
  auto add = [&](const std::string& isbn, std::optional<int> quantity) {
    json body{{"customer_id", id}, {"isbn", isbn}};
    if (quantity)
      body["quantity"] = *quantity;
    return store_->add_basket_item(body);
  };
  EXPECT_EQ(items_of(add("978-1", std::nullopt)), json::array({item("978-1", 2)}));
  EXPECT_EQ(items_of(add("978-1", 1)), json::array({item("978-1", 3)}));
  auto fourth = add("978-1", 1);
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.error().code, codes::kInvalidArgument);
  EXPECT_EQ(field_names(fourth.error()), std::vector<std::string>{"quantity"});

  EXPECT_EQ(items_of(store_->remove_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}})),
            json::array());

  auto stranger = store_->set_basket_item(
      json{{"customer_id", new_uuid()}, {"isbn", "978-1"}, {"quantity", 1}});
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.error().code, codes::kNotFound);
}

TEST_F(CustomerPgTest, BasketSurvivesAReconnect) {
  std::string id = sign_up("alice");
  ASSERT_TRUE(
      store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 2}}).ok());
  now_ += 1s;
  ASSERT_TRUE(
      store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-0"}, {"quantity", 1}}).ok());
  store_.reset();
  db_.reset();

  Database other(schema_.url(), schema_.name());
  Store reopened(other, options());
  EXPECT_EQ(items_of(reopened.get_basket(json{{"customer_id", id}})),
            json::array({item("978-1", 2), item("978-0", 1)}));
}

// Setting a line waits for a concurrent edit of the same basket, and the basket it answers holds
// the line that edit committed meanwhile, besides its own: the answer is read after the write,
// not from the snapshot the write started with.
TEST_F(CustomerPgTest, SetBasketItemWaitsForAConcurrentEditAndAnswersWithItsLine) {
  std::string id = sign_up("alice");
  ASSERT_TRUE(
      store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 1}}).ok());
  pqxx::connection editor(schema_.url());
  pqxx::work edit(editor);
  edit.exec("SET LOCAL search_path TO " + edit.quote_name(schema_.name()));
  edit.exec_params("SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE", id);
  edit.exec_params(
      "INSERT INTO basket_items (customer_id, isbn, quantity, added_at) VALUES ($1, '978-2', 2, "
      "$2::timestamptz)",
      id, format_iso8601(now_ + 1s));
  now_ += 2s;
  std::optional<Result<json>> set;
  std::thread setter([&] {
    set.emplace(
        store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-3"}, {"quantity", 3}}));
  });
  EXPECT_TRUE(testing::eventually([&] { return someone_waits_for(schema_.url(), editor); }, 10s))
      << "the basket change never waited for the edit's lock";
  edit.commit();
  setter.join();
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(items_of(*set), json::array({item("978-1", 1), item("978-2", 2), item("978-3", 3)}));
}

TEST_F(CustomerPgTest, ValidateGivesTheSnapshotOrSaysTheBasketIsEmpty) {
  std::string id = sign_up("alice");
  auto empty = store_->validate(json{{"customer_id", id}});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error(), (Error{codes::kFailedPrecondition, "Your basket is empty", false}));

  ASSERT_TRUE(
      store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 2}}).ok());
  auto snapshot = store_->validate(json{{"customer_id", id}});
  ASSERT_TRUE(snapshot.ok()) << error_text(snapshot.error());
  EXPECT_EQ(snapshot.value(), (json{{"customer_id", id},
                                    {"email", "alice@example.com"},
                                    {"first_name", "First alice"},
                                    {"last_name", "Last"},
                                    {"items", json::array({item("978-1", 2)})}}));

  auto nobody = store_->validate(json{{"customer_id", new_uuid()}});
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error().code, codes::kNotFound);
}

TEST_F(CustomerPgTest, RecordOrderIsIdempotentByOrderIdAndListsNewestFirst) {
  std::string id = sign_up("alice");
  std::string first = new_uuid();
  std::string second = new_uuid();
  json items = json::array({{{"isbn", "978-1"},
                             {"title", "Alice"},
                             {"quantity", 1},
                             {"unit_price_cents", 999},
                             {"line_total_cents", 999}}});
  auto record = [&](const std::string& order_id, std::int64_t total) {
    return store_->record_order(json{{"customer_id", id},
                                     {"order_id", order_id},
                                     {"items", items},
                                     {"total_cents", total},
                                     {"status", "confirmed"}});
  };
  auto r = record(first, 999);
  ASSERT_TRUE(r.ok()) << error_text(r.error());
  EXPECT_EQ(r.value(), (json{{"order_id", first}}));
  EXPECT_EQ(record(first, 999).value(), (json{{"order_id", first}}));
  EXPECT_EQ(record(first, 12345).value(), (json{{"order_id", first}}));  // the first record wins
  now_ += 1s;
  ASSERT_TRUE(record(second, 1998).ok());

  auto orders = store_->list_orders(json{{"customer_id", id}});
  ASSERT_TRUE(orders.ok()) << error_text(orders.error());
  const json& list = orders.value()["orders"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["order_id"], second);
  EXPECT_EQ(list[1]["order_id"], first);
  EXPECT_EQ(list[1]["total_cents"], 999);
  EXPECT_EQ(list[1]["status"], "confirmed");
  EXPECT_EQ(list[1]["items"], items);
  EXPECT_TRUE(parse_iso8601(list[1]["created_at"].get<std::string>()).has_value());

  std::string other = sign_up("bob");
  auto stolen = store_->record_order(json{{"customer_id", other},
                                          {"order_id", first},
                                          {"items", items},
                                          {"total_cents", 1},
                                          {"status", "confirmed"}});
  ASSERT_FALSE(stolen.ok());
  EXPECT_EQ(stolen.error().code, codes::kConflict);
  EXPECT_EQ(store_->list_orders(json{{"customer_id", other}}).value()["orders"], json::array());
}

TEST_F(CustomerPgTest, ClearBasketActsOncePerOrder) {
  std::string id = sign_up("alice");
  std::string order = new_uuid();
  ASSERT_TRUE(
      store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 2}}).ok());
  auto cleared = store_->clear_basket(json{{"customer_id", id}, {"order_id", order}});
  ASSERT_TRUE(cleared.ok()) << error_text(cleared.error());
  EXPECT_EQ(cleared.value(), json::object());
  EXPECT_EQ(items_of(store_->get_basket(json{{"customer_id", id}})), json::array());

  // A redelivered clear for the same order must not wipe what was added since.
  ASSERT_TRUE(
      store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-2"}, {"quantity", 1}}).ok());
  ASSERT_TRUE(store_->clear_basket(json{{"customer_id", id}, {"order_id", order}}).ok());
  EXPECT_EQ(items_of(store_->get_basket(json{{"customer_id", id}})),
            json::array({item("978-2", 1)}));
  ASSERT_TRUE(store_->clear_basket(json{{"customer_id", id}, {"order_id", new_uuid()}}).ok());
  EXPECT_EQ(items_of(store_->get_basket(json{{"customer_id", id}})), json::array());
}

TEST_F(CustomerPgTest, RecordOrderWithClearBasketEmptiesTheBasketOnceWithTheOrder) {
  std::string id = sign_up("alice");
  std::string order = new_uuid();
  json items = json::array({{{"isbn", "978-1"}, {"quantity", 2}}});
  auto record = [&](const std::string& customer_id, const json& clear) {
    return store_->record_order(json{{"customer_id", customer_id},
                                     {"order_id", order},
                                     {"items", items},
                                     {"total_cents", 1998},
                                     {"status", "confirmed"},
                                     {"clear_basket", clear}});
  };
  ASSERT_TRUE(
      store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 2}}).ok());
  auto r = record(id, true);
  ASSERT_TRUE(r.ok()) << error_text(r.error());
  EXPECT_EQ(r.value(), (json{{"order_id", order}}));
  EXPECT_EQ(items_of(store_->get_basket(json{{"customer_id", id}})), json::array());
  EXPECT_EQ(store_->list_orders(json{{"customer_id", id}}).value()["orders"].size(), 1u);

  // A repeat records nothing and empties nothing: what was added since stays.
  ASSERT_TRUE(
      store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-2"}, {"quantity", 1}}).ok());
  ASSERT_TRUE(record(id, true).ok());
  EXPECT_EQ(items_of(store_->get_basket(json{{"customer_id", id}})),
            json::array({item("978-2", 1)}));

  // Another customer's copy of the order id is refused and leaves that customer's basket alone.
  std::string other = sign_up("bob");
  ASSERT_TRUE(
      store_->set_basket_item(json{{"customer_id", other}, {"isbn", "978-3"}, {"quantity", 1}})
          .ok());
  auto stolen = record(other, true);
  ASSERT_FALSE(stolen.ok());
  EXPECT_EQ(stolen.error().code, codes::kConflict);
  EXPECT_EQ(items_of(store_->get_basket(json{{"customer_id", other}})),
            json::array({item("978-3", 1)}));

  auto nobody = record(new_uuid(), true);
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error().code, codes::kNotFound);

  auto wrong = record(id, "yes");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, codes::kInvalidArgument);
  EXPECT_NE(wrong.error().message.find("clear_basket"), std::string::npos) << wrong.error().message;
}

TEST_F(CustomerPgTest, ClearBasketForAnUnknownCustomerIsNotFoundAndRecordsNothing) {
  std::string order = new_uuid();
  auto nobody = store_->clear_basket(json{{"customer_id", new_uuid()}, {"order_id", order}});
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error().code, codes::kNotFound);
  pqxx::connection conn(schema_.url());
  pqxx::work tx(conn);
  tx.exec("SET LOCAL search_path TO " + tx.quote_name(schema_.name()));
  EXPECT_EQ(tx.exec_params("SELECT count(*) FROM basket_clears WHERE order_id = $1", order)[0][0]
                .as<int>(),
            0);
}

// A clear waits for the customer's lock behind a basket edit. What the edit changed in a line
// the order saw goes with the clear; a line the edit added (after the order read the basket)
// stays in the basket. Both ways of emptying the basket are checked: customer.clear_basket
// (purchase v3) and customer.record_order with clear_basket (purchase v4).
TEST_F(CustomerPgTest, ClearBasketWaitsForAConcurrentEditAndKeepsTheLineItAdded) {
  for (bool with_the_order : {false, true}) {
    SCOPED_TRACE(with_the_order ? "record_order with clear_basket" : "clear_basket");
    std::string id = sign_up(with_the_order ? "bob" : "alice");
    ASSERT_TRUE(
        store_->set_basket_item(json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 1}})
            .ok());
    pqxx::connection editor(schema_.url());
    pqxx::work edit(editor);
    edit.exec("SET LOCAL search_path TO " + edit.quote_name(schema_.name()));
    edit.exec_params("SELECT 1 FROM customers WHERE id = $1 FOR NO KEY UPDATE", id);
    edit.exec_params("UPDATE basket_items SET quantity = 2 WHERE customer_id = $1", id);
    edit.exec_params(
        "INSERT INTO basket_items (customer_id, isbn, quantity, added_at) VALUES ($1, '978-2', 1, "
        "now())",
        id);
    std::optional<Result<json>> cleared;
    std::thread clear([&] {
      if (with_the_order) {
        cleared.emplace(store_->record_order(json{{"customer_id", id},
                                                  {"order_id", new_uuid()},
                                                  {"items", json::array()},
                                                  {"total_cents", 0},
                                                  {"status", "confirmed"},
                                                  {"clear_basket", true}}));
      } else {
        cleared.emplace(store_->clear_basket(json{{"customer_id", id}, {"order_id", new_uuid()}}));
      }
    });
    EXPECT_TRUE(testing::eventually([&] { return someone_waits_for(schema_.url(), editor); }, 10s))
        << "the clear never waited for the edit's lock";
    edit.commit();
    clear.join();
    ASSERT_TRUE(cleared.has_value());
    ASSERT_TRUE(cleared->ok()) << error_text(cleared->error());
    EXPECT_EQ(items_of(store_->get_basket(json{{"customer_id", id}})),
              json::array({item("978-2", 1)}));
  }
}

// --- The PostgreSQL idempotency store -------------------------------------------------------

class IdempotencyPgTest : public CustomerPgTest {
 protected:
  IdempotencyPgTest() : idempotency_(db_) { customer_ = sign_up("alice"); }

  /// An effect that puts `quantity` copies of 978-1 in the basket, then returns `outcome`.
  std::function<Result<json>()> effect(int quantity, Result<json> outcome) {
    return [this, quantity, outcome] {
      ++runs_;
      auto r = store_->set_basket_item(
          json{{"customer_id", customer_}, {"isbn", "978-1"}, {"quantity", quantity}});
      EXPECT_TRUE(r.ok());
      return outcome;
    };
  }
  json basket() { return items_of(store_->get_basket(json{{"customer_id", customer_}})); }

  /// Whether another session waits for this fixture's transaction, in its claim of an
  /// idempotency key (its insert of the key's row waits on ours).
  bool someone_waits_for_our_claim() {
    const int ours = db_.connection().backendpid();
    pqxx::connection conn(schema_.url());
    pqxx::nontransaction tx(conn);
    auto waiting = tx.exec_params(
        "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))"
        " AND query LIKE 'INSERT INTO idempotency%'",
        ours);
    return waiting[0][0].as<int>() > 0;
  }

  PgIdempotencyStore idempotency_;
  std::string customer_;
  int runs_ = 0;
};

TEST_F(IdempotencyPgTest, SecondCallWithTheSameKeyReturnsTheRecordedReply) {
  auto first = messaging::deduplicated(idempotency_, "k1", effect(1, json{{"n", 1}}));
  auto second = messaging::deduplicated(idempotency_, "k1", effect(2, json{{"n", 2}}));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.value(), (json{{"n", 1}}));
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(basket(), json::array({item("978-1", 1)}));
  EXPECT_TRUE(idempotency_.has("k1"));
}

TEST_F(IdempotencyPgTest, FinalErrorsAreRecordedAndTheirWritesRolledBack) {
  Error refused = Error::of(codes::kFailedPrecondition, "refused");
  refused.fields.push_back(FieldError{"x", "bad"});
  auto first = messaging::deduplicated(idempotency_, "k2", effect(2, refused));
  auto second = messaging::deduplicated(idempotency_, "k2", effect(3, json::object()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(first.error(), refused);
  EXPECT_EQ(second.error(), refused);
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(basket(), json::array());
}

TEST_F(IdempotencyPgTest, ARefusalAndAConcurrentDeliveryGiveOneAnswer) {
  // The refusal is recorded after its transaction rolled back, in a second one; a delivery of
  // the same key waiting on the claim may get in between. Whichever records first, both answer
  // alike and the key has one outcome.
  Database other_db(schema_.url(), schema_.name());
  Store other_store(other_db, options());
  PgIdempotencyStore other(other_db);
  Error refused = Error::of(codes::kFailedPrecondition, "refused");
  std::thread racer;
  std::optional<Result<json>> raced;
  auto first = messaging::deduplicated(idempotency_, "k5", [&]() -> Result<json> {
    ++runs_;
    racer = std::thread([&] {
      raced.emplace(messaging::deduplicated(other, "k5", [&]() -> Result<json> {
        auto r = other_store.set_basket_item(
            json{{"customer_id", customer_}, {"isbn", "978-1"}, {"quantity", 1}});
        EXPECT_TRUE(r.ok());
        return json{{"won", "racer"}};
      }));
    });
    EXPECT_TRUE(testing::eventually([&] { return someone_waits_for_our_claim(); }, 10s))
        << "the racer never waited on the key's lock";
    return refused;
  });
  racer.join();
  ASSERT_TRUE(raced.has_value());
  EXPECT_EQ(first.ok(), raced->ok());
  if (first.ok()) {
    EXPECT_EQ(first.value(), raced->value());
    EXPECT_EQ(basket(), json::array({item("978-1", 1)}));
  } else {
    EXPECT_EQ(first.error(), refused);
    EXPECT_EQ(raced->error(), refused);
    EXPECT_EQ(basket(), json::array());
  }
  EXPECT_TRUE(idempotency_.has("k5"));
}

TEST_F(IdempotencyPgTest, RetryableErrorsAreNotRecorded) {
  auto first = messaging::deduplicated(idempotency_, "k3",
                                       effect(2, Error::of(codes::kUnavailable, "later")));
  ASSERT_FALSE(first.ok());
  EXPECT_FALSE(idempotency_.has("k3"));
  EXPECT_EQ(basket(), json::array());
  auto second = messaging::deduplicated(idempotency_, "k3", effect(3, json{{"ok", true}}));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(runs_, 2);
  EXPECT_EQ(basket(), json::array({item("978-1", 3)}));
}

TEST_F(IdempotencyPgTest, AnEffectThatThrowsLeavesNothingBehind) {
  EXPECT_THROW((void)messaging::deduplicated(
                   idempotency_, "k4",
                   [&]() -> Result<json> {
                     (void)store_->set_basket_item(
                         json{{"customer_id", customer_}, {"isbn", "978-1"}, {"quantity", 1}});
                     throw std::runtime_error("boom");
                   }),
               std::runtime_error);
  EXPECT_FALSE(idempotency_.has("k4"));
  EXPECT_EQ(basket(), json::array());
  EXPECT_EQ(db_.ambient(), nullptr);
}

// The service dies in the middle of a command (its database session is killed before the
// commit): the claim on the key goes with the rolled-back transaction, so the redelivery, on
// another session, acts once and the key answers its outcome from then on.
TEST_F(IdempotencyPgTest, AClaimDiesWithItsSession) {
  EXPECT_THROW(
      (void)messaging::deduplicated(
          idempotency_, "k9",
          [&]() -> Result<json> {
            ++runs_;
            EXPECT_TRUE(store_
                            ->set_basket_item(json{
                                {"customer_id", customer_}, {"isbn", "978-1"}, {"quantity", 2}})
                            .ok());
            pqxx::connection admin(schema_.url());
            pqxx::nontransaction kill(admin);
            kill.exec_params("SELECT pg_terminate_backend($1)", db_.connection().backendpid());
            return json{{"won", "first"}};
          }),
      pqxx::failure);
  EXPECT_FALSE(idempotency_.has("k9"));
  EXPECT_EQ(basket(), json::array());

  Database other_db(schema_.url(), schema_.name());
  Store other_store(other_db, options());
  PgIdempotencyStore other(other_db);
  auto second = messaging::deduplicated(other, "k9", [&]() -> Result<json> {
    ++runs_;
    EXPECT_TRUE(
        other_store
            .set_basket_item(json{{"customer_id", customer_}, {"isbn", "978-1"}, {"quantity", 1}})
            .ok());
    return json{{"won", "second"}};
  });
  ASSERT_TRUE(second.ok()) << error_text(second.error());
  EXPECT_EQ(second.value(), (json{{"won", "second"}}));
  auto third = messaging::deduplicated(idempotency_, "k9", effect(3, json{{"won", "third"}}));
  ASSERT_TRUE(third.ok()) << error_text(third.error());
  EXPECT_EQ(third.value(), second.value());
  EXPECT_EQ(runs_, 2);
  EXPECT_EQ(basket(), json::array({item("978-1", 1)}));
}

TEST_F(IdempotencyPgTest, AnEmptyKeyIsRefused) {
  auto r = messaging::deduplicated(idempotency_, "", effect(1, json::object()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, codes::kInvalidArgument);
  EXPECT_EQ(runs_, 0);
}

}  // namespace
}  // namespace wonderland::customer::test
