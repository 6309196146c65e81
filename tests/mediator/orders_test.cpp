// The customer's view of an order (order_view) over a real engine and SQLite journal with
// in-process services: pending until the purchase is decided, confirmed from its pivot on (also
// while the announcement is retried, and when it needs an operator), failed with the service's
// reason before it.
#include "wonderland/mediator/orders.hpp"

#include <gtest/gtest.h>

#include "../workflow/support.hpp"

namespace wonderland::mediator {
namespace {

using nlohmann::json;
using workflow::testing::Harness;
using workflow::testing::task;

/// reserve (its output prices the order), record (the pivot), then announce.
json purchase() {
  json reserve = task("reserve", "svc.reserve", true);
  json announce = {{"id", "announce"},
                   {"kind", "publish"},
                   {"topic", "order.confirmed"},
                   {"input", {{"order_id", "${workflow.id}"}}},
                   {"retry", {{"initial_backoff_ms", 100}, {"jitter", 0}}}};
  return json{{"name", "purchase"},
              {"version", 1},
              {"steps", json::array({reserve, task("record", "svc.record"), announce})},
              {"pivot", "record"}};
}

struct OrderViewTest : ::testing::Test {
  Harness h;
  void SetUp() override {
    h.define(purchase());
    h.serve("svc.reserve", [](const workflow::Command&) -> Result<json> {
      return json{{"items", json::array({{{"isbn", "9780000000001"}, {"quantity", 1}}})},
                  {"total_cents", 1250}};
    });
    h.serve_ok("undo.reserve");
  }
  std::string status_of(const std::string& id, const std::string& customer = "c-1") {
    auto view = order_view(*h.engine, h.registry, id, customer);
    EXPECT_TRUE(view.ok()) << view.error().message;
    return view.ok() ? view.value().value("status", "") : "";
  }
};

TEST_F(OrderViewTest, ConfirmedOnceDecidedWhileTheAnnouncementIsRetried) {
  h.serve_ok("svc.record");
  h.transport.fail_publications(Error::of(codes::kUnavailable, "broker down"));
  h.boot();
  const std::string id = h.start("purchase", {{"customer_id", "c-1"}}, "order-1");
  h.log.wait(id, workflow::events::kStepAttemptFailed, "announce");
  EXPECT_EQ((*h.engine->find(id))->status, workflow::WorkflowStatus::kRunning);
  auto view = order_view(*h.engine, h.registry, id, "c-1");
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view.value()["status"], "confirmed");
  EXPECT_EQ(view.value()["total_cents"], 1250);
  EXPECT_FALSE(view.value().contains("reason"));
  // Someone else's order is not even acknowledged.
  EXPECT_EQ(order_view(*h.engine, h.registry, id, "c-2").error().code, codes::kNotFound);
  EXPECT_EQ(order_view(*h.engine, h.registry, "no-such-order", "c-1").error().code,
            codes::kNotFound);

  h.transport.fail_publications(std::nullopt);
  h.clock.advance(std::chrono::milliseconds(100));
  EXPECT_EQ(h.log.wait_settled(id).type, workflow::events::kCompleted);
  EXPECT_EQ(status_of(id), "confirmed");
}

TEST_F(OrderViewTest, StaysConfirmedWhenTheAnnouncementNeedsAnOperator) {
  h.serve_ok("svc.record");
  h.transport.fail_publications(Error::of(codes::kInvalidArgument, "message too large"));
  h.boot();
  const std::string id = h.start("purchase", {{"customer_id", "c-1"}}, "order-2");
  EXPECT_EQ(h.log.wait_settled(id).type, workflow::events::kNeedsAttention);
  auto view = order_view(*h.engine, h.registry, id, "c-1");
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view.value()["status"], "confirmed");
  EXPECT_FALSE(view.value().contains("reason")) << view.value().dump();
  EXPECT_EQ(h.calls.count("undo.reserve"), 0);
}

TEST_F(OrderViewTest, PendingBeforeThePivotAndFailedWithTheServicesReasonWhenItFails) {
  workflow::testing::Parked record;
  h.transport.on_async("svc.record", record.handler(&h.calls));
  h.boot();
  const std::string id = h.start("purchase", {{"customer_id", "c-1"}}, "order-3");
  record.wait_for(1);
  EXPECT_EQ(status_of(id), "pending");
  record.reply("record", Error::of(codes::kFailedPrecondition, "Your card was declined"));
  EXPECT_EQ(h.log.wait_settled(id).type, workflow::events::kFailed);
  auto view = order_view(*h.engine, h.registry, id, "c-1");
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view.value()["status"], "failed");
  EXPECT_EQ(view.value()["reason"], "Your card was declined");
  EXPECT_EQ(h.calls.count("undo.reserve"), 1);
}

}  // namespace
}  // namespace wonderland::mediator
