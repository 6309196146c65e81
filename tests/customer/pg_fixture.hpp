// Shared fixture of the customer pg tests: a migrated schema of the test's own, a store on it
// with cheap password hashing and a clock the test moves.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "database.hpp"
#include "migrations.hpp"
#include "outbox.hpp"
#include "store.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/testing/postgres.hpp"

namespace wonderland::customer::test {

/// Records what a handler or a flush publishes; can be told to fail.
struct FakePublisher {
  Status publish(const std::string& routing_key, const messaging::Envelope& event) {
    std::lock_guard lock(mu);
    if (failing)
      return Error::of(codes::kUnavailable, "broker down");
    published.emplace_back(routing_key, event);
    return ok_status();
  }
  EventPublisher fn() {
    return [this](const std::string& k, const messaging::Envelope& e) { return publish(k, e); };
  }
  /// The message ids published so far, in order.
  std::vector<std::string> message_ids() {
    std::lock_guard lock(mu);
    std::vector<std::string> ids;
    for (const auto& p : published)
      ids.push_back(p.second.message_id);
    return ids;
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return published.size();
  }
  std::mutex mu;
  bool failing = false;
  std::vector<std::pair<std::string, messaging::Envelope>> published;
};

inline std::string error_text(const Error& e) {
  return std::string(to_string(e.code)) + ": " + e.message;
}

class CustomerPgTest : public ::testing::Test {
 protected:
  CustomerPgTest() : db_(schema_.url(), schema_.name()) {
    migrate(db_);
    store_ = std::make_unique<Store>(db_, options());
  }

  /// Options for stores of this test: cheap hashing, 1 h sessions, the test's clock.
  StoreOptions options() {
    StoreOptions o;
    o.password = PasswordPolicy::for_tests();
    o.session_ttl = std::chrono::hours(1);
    o.clock = [this] { return now_; };
    return o;
  }

  nlohmann::json sign_up_body(const std::string& username, const std::string& email = "") {
    return nlohmann::json{{"username", username},
                          {"email", email.empty() ? username + "@example.com" : email},
                          {"password", "correct horse " + username},
                          {"first_name", "First " + username},
                          {"last_name", "Last"}};
  }

  /// Signs up `username` and returns the new customer id.
  std::string sign_up(const std::string& username) {
    auto r = store_->sign_up(sign_up_body(username));
    EXPECT_TRUE(r.ok()) << error_text(r.error());
    return r.ok() ? r.value()["customer_id"].get<std::string>() : std::string();
  }

  /// Records a confirmed order for `customer_id` of two copies of "978-1" (Alice, 999 each) and
  /// one of "978-2" (Through the Looking-Glass, 1500); returns its id.
  std::string record_order(const std::string& customer_id) {
    std::string order_id = new_uuid();
    auto items = nlohmann::json::array({{{"isbn", "978-1"},
                                         {"title", "Alice"},
                                         {"quantity", 2},
                                         {"unit_price_cents", 999},
                                         {"line_total_cents", 1998}},
                                        {{"isbn", "978-2"},
                                         {"title", "Through the Looking-Glass"},
                                         {"quantity", 1},
                                         {"unit_price_cents", 1500},
                                         {"line_total_cents", 1500}}});
    auto r = store_->record_order(nlohmann::json{{"customer_id", customer_id},
                                                 {"order_id", order_id},
                                                 {"items", items},
                                                 {"total_cents", 3498},
                                                 {"status", "confirmed"}});
    EXPECT_TRUE(r.ok()) << error_text(r.error());
    return order_id;
  }

  /// A direct connection to the test's schema, for looking at what is stored.
  pqxx::result query(const std::string& sql) {
    pqxx::connection conn(schema_.url());
    pqxx::work tx(conn);
    tx.exec("SET LOCAL search_path TO " + tx.quote_name(schema_.name()));
    auto r = tx.exec(sql);
    tx.commit();
    return r;
  }

  testing::ScopedSchema schema_{"customer_test"};
  Database db_;
  SystemTime now_ = std::chrono::system_clock::now();
  std::unique_ptr<Store> store_;
};

}  // namespace wonderland::customer::test
