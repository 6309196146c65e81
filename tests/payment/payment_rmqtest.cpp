// The payment service over RabbitMQ: its RpcServer on a queue of its own, and the
// `order.refunded` event it publishes on wonderland.events (not for partial refunds).
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <vector>

#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/pubsub.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/payment/protocol.hpp"
#include "wonderland/payment/server.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/temp_dir.hpp"

namespace wonderland::payment {
namespace {

using namespace std::chrono_literals;
using messaging::Envelope;
using nlohmann::json;

messaging::ConnectionOptions options_for(const std::string& service) {
  messaging::ConnectionOptions o;
  o.url = testing::amqp_url();
  o.service = service;
  o.reconnect_min_backoff = 50ms;
  o.reconnect_max_backoff = 500ms;
  return o;
}

json card(const char* number) {
  return json{{"method", "visa"}, {"card_number", number}, {"expiry", "12/39"}, {"cvv", "123"}};
}

using wonderland::testing::TempDir;

class PaymentRmqTest : public ::testing::Test {
 protected:
  PaymentRmqTest()
      : server_conn_(options_for("payment")),
        client_conn_(options_for("payment-client")),
        client_(client_conn_) {
    Config config;
    config.store.db_path = (dir_ / "payment.db").string();
    config.queue = queue_;
    server_ = std::make_unique<Server>(server_conn_, config);
  }
  ~PaymentRmqTest() override {
    events_consumer_.cancel();
    server_.reset();
    for (const auto& q : {queue_, messaging::dead_letter_queue_for(queue_), events_queue_,
                          messaging::dead_letter_queue_for(events_queue_)}) {
      try {
        client_conn_.delete_queue(q);
      } catch (const std::exception&) {
      }
    }
  }

  Result<Envelope> call(const std::string& type, json body, std::string key = new_uuid()) {
    Envelope e = Envelope::make(type, std::move(body));
    e.idempotency_key = std::move(key);
    return client_.call(messaging::RpcRequest{queue_, e, 10s}).get();
  }

  /// Tokenizes a test card that is charged, then charges `amount_cents` for `order` with it.
  Result<Envelope> charge(const std::string& order, const std::string& customer,
                          std::int64_t amount_cents) {
    Result<Envelope> token = call(
        commands::kTokenize, {{"customer_id", customer}, {"payment", card("4242424242424242")}});
    if (!token.ok())
      return token.error();
    EXPECT_EQ(token->body["last4"], "4242");
    return call(commands::kCharge, {{"order_id", order},
                                    {"customer_id", customer},
                                    {"amount_cents", amount_cents},
                                    {"payment_token", token->body["payment_token"]}});
  }

  /// Listens to order.refunded on a temporary queue of this test (a copy of what others see).
  void listen_for_refunds() {
    messaging::QueueSpec spec;
    spec.name = events_queue_;
    spec.durable = false;
    spec.expires = 60s;
    client_conn_.declare(spec);
    client_conn_.declare(
        messaging::BindingSpec{events_queue_, messaging::exchanges::kEvents, kRefundedEvent});
    client_conn_.declare(
        messaging::BindingSpec{events_queue_, messaging::exchanges::kEvents, marker_key_});
    events_consumer_ =
        client_conn_.consume(messaging::ConsumerOptions{events_queue_, 16, 3, 1},
                             [this](const Envelope& e, const messaging::DeliveryInfo&) {
                               std::lock_guard lock(mu_);
                               events_.push_back(e);
                               got_event_.add();
                             });
  }
  /// The order.refunded events seen for `order_id` (other processes may publish others).
  std::vector<Envelope> refunds_for(const std::string& order_id) {
    std::lock_guard lock(mu_);
    std::vector<Envelope> out;
    for (const auto& e : events_) {
      if (e.body.value("order_id", std::string()) == order_id)
        out.push_back(e);
    }
    return out;
  }

  /// Waits until every event the broker confirmed before now has reached this test's consumer:
  /// a marker published after them (on a routing key only this test binds) reaches the same
  /// queue behind them and its one consumer sees it last.
  bool events_drained() {
    const std::string marker = new_uuid();
    Envelope e = Envelope::make("payment-test.marker", {{"order_id", marker}});
    Status sent = messaging::publish_event(client_conn_, messaging::exchanges::kEvents, marker_key_,
                                           std::move(e))
                      .get();
    return sent.ok() && testing::eventually([&] { return !refunds_for(marker).empty(); }, 10s);
  }

  TempDir tmp_{"payment-rmq"};
  const std::string marker_key_ = testing::unique_name("payment-test.marker");
  const std::filesystem::path& dir_ = tmp_.path();
  messaging::QueueName queue_{testing::unique_name("payment.commands")};
  messaging::QueueName events_queue_{testing::unique_name("payment-test.events")};
  messaging::Connection server_conn_;
  messaging::Connection client_conn_;
  messaging::RpcClient client_;
  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::vector<Envelope> events_;
  testing::Latch got_event_;
  messaging::ConsumerHandle events_consumer_;
};

TEST_F(PaymentRmqTest, ChargeThenRefundPublishesOrderRefundedOnce) {
  listen_for_refunds();
  const std::string order = new_uuid();
  const std::string customer = new_uuid();
  Result<Envelope> charged = charge(order, customer, 7700);
  ASSERT_TRUE(charged.ok()) << charged.error().message;
  EXPECT_EQ(charged->body["status"], "charged");
  EXPECT_EQ(charged->body["masked"], "**** **** **** 4242");

  Envelope refund = Envelope::make(commands::kRefund, {{"order_id", order}});
  refund.idempotency_key = new_uuid();
  refund.correlation_id = order;
  Result<Envelope> refunded = client_.call(messaging::RpcRequest{queue_, refund, 10s}).get();
  ASSERT_TRUE(refunded.ok()) << refunded.error().message;
  EXPECT_EQ(refunded->body,
            (json{{"order_id", order}, {"refunded_cents", 7700}, {"status", "refunded"}}));

  ASSERT_TRUE(testing::eventually([&] { return !refunds_for(order).empty(); }, 10s));
  Envelope event = refunds_for(order).front();
  EXPECT_EQ(event.type, "order.refunded");
  EXPECT_EQ(event.source, "payment");
  EXPECT_EQ(event.correlation_id, order);
  EXPECT_EQ(event.body,
            (json{{"order_id", order}, {"customer_id", customer}, {"refunded_cents", 7700}}));
  EXPECT_TRUE(server_->payments().pending_events().empty());

  // Refunding again (the same key, then another) sends no second event.
  ASSERT_TRUE(client_.call(messaging::RpcRequest{queue_, refund, 10s}).get().ok());
  ASSERT_TRUE(call(commands::kRefund, {{"order_id", order}}).ok());
  // Each refund command publishes the outbox before it answers: anything it sent is queued.
  ASSERT_TRUE(events_drained());
  EXPECT_EQ(refunds_for(order).size(), 1u);

  Result<Envelope> ledger = call(commands::kGet, {{"order_id", order}});
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(ledger->body["refunded_cents"], 7700);
}

TEST_F(PaymentRmqTest, NothingToRefundPublishesNothing) {
  listen_for_refunds();
  const std::string order = new_uuid();
  Result<Envelope> r = call(commands::kRefund, {{"order_id", order}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body["status"], "nothing_to_refund");
  ASSERT_TRUE(events_drained());
  EXPECT_TRUE(refunds_for(order).empty());
}

TEST_F(PaymentRmqTest, PartialRefundsPublishNothingAndTheRefundReturnsTheRest) {
  listen_for_refunds();
  const std::string order = new_uuid();
  ASSERT_TRUE(charge(order, new_uuid(), 7700).ok());
  const json body{
      {"order_id", order}, {"refund_id", new_uuid() + "/9780141439761"}, {"amount_cents", 2000}};
  const std::string key = new_uuid();
  Result<Envelope> partial = call(commands::kRefundPartial, body, key);
  ASSERT_TRUE(partial.ok()) << partial.error().message;
  EXPECT_EQ(partial->body["remaining_cents"], 5700);
  EXPECT_EQ(call(commands::kRefundPartial, body, key)->body, partial->body);  // resent
  ASSERT_TRUE(events_drained());
  EXPECT_TRUE(refunds_for(order).empty());

  Result<Envelope> refunded = call(commands::kRefund, {{"order_id", order}});
  ASSERT_TRUE(refunded.ok()) << refunded.error().message;
  EXPECT_EQ(refunded->body["refunded_cents"], 5700);
  ASSERT_TRUE(testing::eventually([&] { return !refunds_for(order).empty(); }, 10s));
  EXPECT_EQ(refunds_for(order).front().body["refunded_cents"], 5700);

  Result<Envelope> over = call(commands::kRefundPartial,
                               {{"order_id", order}, {"refund_id", "late"}, {"amount_cents", 1}});
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, codes::kFailedPrecondition);
}

TEST_F(PaymentRmqTest, ErrorsArriveAsValuesWithTheirFields) {
  Result<Envelope> unknown = call("payment.launder", json::object());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, codes::kInvalidArgument);

  Result<Envelope> invalid = call(commands::kValidate, {{"payment",
                                                         {{"method", "visa"},
                                                          {"card_number", "4242 4242 4242 4241"},
                                                          {"expiry", "01/20"},
                                                          {"cvv", "12"}}}});
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code, codes::kInvalidArgument);
  std::vector<std::string> fields;
  for (const auto& f : invalid.error().fields)
    fields.push_back(f.field);
  EXPECT_EQ(fields,
            (std::vector<std::string>{"payment.card_number", "payment.expiry", "payment.cvv"}));

  const std::string customer = new_uuid();
  Result<Envelope> token = call(
      commands::kTokenize, {{"customer_id", customer}, {"payment", card("4000 0000 0000 9995")}});
  ASSERT_TRUE(token.ok()) << token.error().message;
  Result<Envelope> declined =
      call(commands::kCharge, {{"order_id", new_uuid()},
                               {"customer_id", customer},
                               {"amount_cents", 100},
                               {"payment_token", token->body["payment_token"]}});
  ASSERT_FALSE(declined.ok());
  EXPECT_EQ(declined.error(), Error::of(codes::kFailedPrecondition, "Insufficient funds"));
}

}  // namespace
}  // namespace wonderland::payment
