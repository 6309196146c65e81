// The inventory service over RabbitMQ: its RpcServer on a queue of its own, called through
// RpcClient as the mediator and the web gateway call it.
#include <gtest/gtest.h>

#include <filesystem>

#include "wonderland/common/ids.hpp"
#include "wonderland/inventory/server.hpp"
#include "wonderland/messaging/rpc.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/temp_dir.hpp"

namespace wonderland::inventory {
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

using wonderland::testing::TempDir;

class InventoryRmqTest : public ::testing::Test {
 protected:
  InventoryRmqTest()
      : server_conn_(options_for("inventory")),
        client_conn_(options_for("inventory-client")),
        client_(client_conn_) {
    Config config;
    config.store.db_path = (dir_ / "inventory.db").string();
    config.store.catalogue_path = std::string(WONDERLAND_SOURCE_DIR) + "/data/catalogue.json";
    config.queue = queue_;
    server_ = std::make_unique<Server>(server_conn_, config);
  }
  ~InventoryRmqTest() override {
    server_.reset();
    try {
      client_conn_.delete_queue(queue_);
      client_conn_.delete_queue(messaging::dead_letter_queue_for(queue_));
    } catch (const std::exception&) {
    }
  }

  Result<Envelope> call(const std::string& type, json body, std::string key = new_uuid()) {
    Envelope e = Envelope::make(type, std::move(body));
    e.idempotency_key = std::move(key);
    return client_.call(messaging::RpcRequest{queue_, e, 10s}).get();
  }

  TempDir tmp_{"inventory-rmq"};
  const std::filesystem::path& dir_ = tmp_.path();
  messaging::QueueName queue_{testing::unique_name("inventory.commands")};
  messaging::Connection server_conn_;
  messaging::Connection client_conn_;
  messaging::RpcClient client_;
  std::unique_ptr<Server> server_;
};

TEST_F(InventoryRmqTest, ServesReadsAndAReservationLifecycle) {
  Result<Envelope> list = call("inventory.list_books", {{"q", "sam newman"}});
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->type, "inventory.list_books.reply");
  EXPECT_EQ(list->body["total"], 2);

  Result<Envelope> book = call("inventory.get_book", {{"isbn", "9781492092391"}});
  ASSERT_TRUE(book.ok()) << book.error().message;
  EXPECT_EQ(book->body["title"], "Data Mesh");
  EXPECT_EQ(book->body["stock"], 90);

  const std::string order = new_uuid();
  const std::string key = new_uuid();
  json reserve_body{{"order_id", order},
                    {"items", json::array({{{"isbn", "9781492092391"}, {"quantity", 3}}})}};
  Result<Envelope> reserved = call("inventory.reserve", reserve_body, key);
  ASSERT_TRUE(reserved.ok()) << reserved.error().message;
  EXPECT_EQ(reserved->body["total_cents"], 3 * 5900);
  Result<Envelope> replayed =
      call("inventory.reserve", reserve_body, key);  // a redelivered command
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(replayed->body, reserved->body);
  EXPECT_EQ(server_->inventory().book("9781492092391")->stock, 87);

  Result<Envelope> confirmed = call("inventory.confirm", {{"order_id", order}});
  ASSERT_TRUE(confirmed.ok()) << confirmed.error().message;
  EXPECT_EQ(confirmed->body["status"], "confirmed");
  Result<Envelope> released = call("inventory.release", {{"order_id", order}});
  ASSERT_TRUE(released.ok()) << released.error().message;
  EXPECT_EQ(released->body["status"], "released");
  EXPECT_EQ(server_->inventory().book("9781492092391")->stock, 90);
}

TEST_F(InventoryRmqTest, ErrorsArriveAsValuesWithTheirFields) {
  Result<Envelope> unknown_type = call("inventory.steal_books", json::object());
  ASSERT_FALSE(unknown_type.ok());
  EXPECT_EQ(unknown_type.error().code, codes::kInvalidArgument);
  EXPECT_NE(unknown_type.error().message.find("inventory.steal_books"), std::string::npos);

  Result<Envelope> bad =
      call("inventory.price", {{"items", json::array({{{"isbn", "12"}, {"quantity", 1}}})}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, codes::kInvalidArgument);
  ASSERT_EQ(bad.error().fields.size(), 1u);
  EXPECT_EQ(bad.error().fields[0].field, "items[0].isbn");

  Result<Envelope> short_stock =
      call("inventory.reserve",
           {{"order_id", new_uuid()},
            {"items", json::array({{{"isbn", "9781492043454"}, {"quantity", 51}}})}});
  ASSERT_FALSE(short_stock.ok());
  EXPECT_EQ(short_stock.error(),
            Error::of(codes::kFailedPrecondition,
                      "Not enough stock for Fundamentals of Software Architecture: 51 requested, "
                      "50 available"));

  Result<Envelope> missing = call("inventory.confirm", {{"order_id", new_uuid()}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, codes::kNotFound);
}

}  // namespace
}  // namespace wonderland::inventory
