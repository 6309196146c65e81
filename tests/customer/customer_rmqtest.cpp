// The customer service end to end: the Server on the real broker (WONDERLAND_AMQP_URL) and the
// real PostgreSQL (WONDERLAND_PG_URL), driven through RpcClient like the mediator does.
#include <gtest/gtest.h>

#include <mutex>

#include "wonderland/common/ids.hpp"
#include "wonderland/customer/server.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/postgres.hpp"

namespace wonderland::customer {
namespace {

using messaging::Envelope;
using nlohmann::json;
using namespace std::chrono_literals;

messaging::ConnectionOptions options_for(const std::string& service) {
  messaging::ConnectionOptions o;
  o.url = testing::amqp_url();
  o.service = service;
  o.reconnect_min_backoff = 50ms;
  o.reconnect_max_backoff = 500ms;
  return o;
}

class CustomerServiceTest : public ::testing::Test {
 protected:
  CustomerServiceTest()
      : server_conn_(options_for("customer")),
        client_conn_(options_for("customer-test-client")),
        rpc_(client_conn_) {
    config_.pg_url = schema_.url();
    config_.schema = schema_.name();
    config_.queue = testing::unique_name("customer.commands");
    config_.workers = 2;
    config_.password = PasswordPolicy::for_tests();
    config_.outbox_interval = 200ms;
    config_.startup_timeout = 10s;

    // Watch the events exchange for sign-ups.
    events_queue_ = messaging::QueueName{testing::unique_name("customer-test.events")};
    messaging::QueueSpec spec;
    spec.name = events_queue_;
    spec.durable = false;
    spec.expires = 60s;
    client_conn_.declare(
        messaging::ExchangeSpec{messaging::exchanges::kEvents, messaging::ExchangeType::kTopic});
    client_conn_.declare(spec);
    client_conn_.declare(
        messaging::BindingSpec{events_queue_, messaging::exchanges::kEvents, "customer.signed_up"});
    events_consumer_ =
        client_conn_.consume(messaging::ConsumerOptions{events_queue_, 16, 3, 1},
                             [this](const Envelope& e, const messaging::DeliveryInfo&) {
                               std::lock_guard lock(mu_);
                               events_.push_back(e);
                               seen_.add();
                             });
    server_ = std::make_unique<Server>(server_conn_, config_);
  }

  ~CustomerServiceTest() override {
    server_.reset();
    events_consumer_.cancel();
    messaging::QueueName commands{config_.queue};
    for (const auto& q : {commands, messaging::dead_letter_queue_for(commands), events_queue_,
                          messaging::dead_letter_queue_for(events_queue_)}) {
      try {
        client_conn_.delete_queue(q);
      } catch (const std::exception&) {
      }
    }
  }

  Result<Envelope> call(const std::string& type, json body, const std::string& key = "") {
    Envelope e = Envelope::make(type, std::move(body));
    e.idempotency_key = key;
    return rpc_.call(messaging::RpcRequest{messaging::QueueName{config_.queue}, e, 15s}).get();
  }

  std::vector<Envelope> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

  testing::ScopedSchema schema_{"customer_rmq"};
  Config config_;
  messaging::Connection server_conn_;
  messaging::Connection client_conn_;
  messaging::RpcClient rpc_;
  messaging::QueueName events_queue_;
  messaging::ConsumerHandle events_consumer_;
  std::mutex mu_;
  std::vector<Envelope> events_;
  testing::Latch seen_;
  std::unique_ptr<Server> server_;
};

TEST_F(CustomerServiceTest, SignUpOverTheBrokerIsAnnouncedOnTheEventsExchange) {
  json body{{"username", "alice"},
            {"email", "alice@example.com"},
            {"password", "correct horse"},
            {"first_name", "Alice"},
            {"last_name", "Liddell"}};
  auto reply = call("customer.sign_up", body, "signup-" + new_uuid());
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  const json& profile = reply->body;
  std::string id = profile["customer_id"];
  EXPECT_TRUE(is_uuid(id));
  EXPECT_EQ(profile["username"], "alice");
  EXPECT_EQ(profile.dump().find("correct horse"), std::string::npos);

  ASSERT_TRUE(seen_.wait_for(1, 10s));
  auto got = events();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "customer.signed_up");
  EXPECT_EQ(got[0].source, "customer");
  EXPECT_EQ(got[0].body, (json{{"customer_id", id},
                               {"username", "alice"},
                               {"email", "alice@example.com"},
                               {"first_name", "Alice"},
                               {"last_name", "Liddell"}}));

  // The same name again is a conflict with fields, as a value over the wire.
  auto taken = call("customer.sign_up", body, "signup-" + new_uuid());
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, codes::kConflict);
  ASSERT_FALSE(taken.error().fields.empty());
  EXPECT_EQ(taken.error().fields[0], (FieldError{"username", "username is taken"}));
}

TEST_F(CustomerServiceTest, ThePurchasePathOfCommandsWorksOverTheBroker) {
  auto signed_up = call("customer.sign_up",
                        json{{"username", "hatter"},
                             {"email", "hatter@example.com"},
                             {"password", "tea party time"},
                             {"first_name", "Mad"},
                             {"last_name", "Hatter"}},
                        "signup-" + new_uuid());
  ASSERT_TRUE(signed_up.ok()) << signed_up.error().message;
  auto signed_in =
      call("customer.sign_in", json{{"username", "hatter"}, {"password", "tea party time"}});
  ASSERT_TRUE(signed_in.ok()) << signed_in.error().message;
  std::string token = signed_in->body["token"];
  auto me = call("customer.authenticate", json{{"token", token}});
  ASSERT_TRUE(me.ok()) << me.error().message;
  std::string id = me->body["customer_id"];

  auto empty = call("customer.validate", json{{"customer_id", id}});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error(), (Error{codes::kFailedPrecondition, "Your basket is empty", false}));

  std::string key = "basket-" + new_uuid();
  auto set = call("customer.set_basket_item",
                  json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 3}}, key);
  ASSERT_TRUE(set.ok()) << set.error().message;
  auto too_many =
      call("customer.set_basket_item",
           json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 4}}, "basket-" + new_uuid());
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, codes::kInvalidArgument);
  // A redelivery of the first command is answered from the record, not acted on again.
  auto replay = call("customer.set_basket_item",
                     json{{"customer_id", id}, {"isbn", "978-1"}, {"quantity", 1}}, key);
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->body, set->body);

  auto snapshot = call("customer.validate", json{{"customer_id", id}});
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  EXPECT_EQ(snapshot->body["items"], json::array({{{"isbn", "978-1"}, {"quantity", 3}}}));
  EXPECT_EQ(snapshot->body["email"], "hatter@example.com");

  std::string order = new_uuid();
  auto recorded = call("customer.record_order",
                       json{{"customer_id", id},
                            {"order_id", order},
                            {"items", snapshot->body["items"]},
                            {"total_cents", 2997},
                            {"status", "confirmed"}},
                       "record-" + order);
  ASSERT_TRUE(recorded.ok()) << recorded.error().message;
  ASSERT_TRUE(call("customer.clear_basket", json{{"customer_id", id}, {"order_id", order}},
                   "clear-" + order)
                  .ok());
  auto basket = call("customer.get_basket", json{{"customer_id", id}});
  ASSERT_TRUE(basket.ok());
  EXPECT_EQ(basket->body["items"], json::array());
  auto orders = call("customer.list_orders", json{{"customer_id", id}});
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->body["orders"].size(), 1u);
  EXPECT_EQ(orders->body["orders"][0]["order_id"], order);

  ASSERT_TRUE(call("customer.sign_out", json{{"token", token}}, "signout-" + new_uuid()).ok());
  auto gone = call("customer.authenticate", json{{"token", token}});
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, codes::kUnauthenticated);
}

}  // namespace
}  // namespace wonderland::customer
