// The services whose queues /readyz requires: those of the loaded definitions' tasks.
#include "wonderland/mediator/readiness.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "wonderland/testing/process.hpp"

namespace wonderland::mediator {
namespace {

TEST(Readiness, TaskServicesAreThoseOfTasksAndCompensationsEachOnce) {
  workflow::DefinitionRegistry registry;
  auto definition = workflow::parse_definition_text(R"({
    "name": "order", "version": 1,
    "steps": [
      {"id": "reserve", "kind": "task", "service": "stock", "action": "stock.reserve",
       "compensation": {"service": "ledger", "action": "ledger.release"}},
      {"id": "both", "kind": "parallel", "branches": [
        [{"id": "charge", "kind": "task", "service": "money", "action": "money.charge"}],
        [{"id": "again", "kind": "task", "service": "stock", "action": "stock.confirm"}]]},
      {"id": "tell", "kind": "publish", "topic": "order.done"}
    ]})",
                                                    "order.json");
  ASSERT_TRUE(definition.ok()) << definition.error().message;
  ASSERT_TRUE(registry.add(definition.value()).ok());
  EXPECT_EQ(task_services(registry), (std::vector<std::string>{"ledger", "money", "stock"}));
}

TEST(Readiness, ThePurchaseNeedsCustomerInventoryAndPayment) {
  workflow::DefinitionRegistry registry;
  auto loaded = registry.load_directory(std::filesystem::path(testing::source_dir()) / "workflows");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(task_services(registry),
            (std::vector<std::string>{"customer", "inventory", "payment"}));
}

}  // namespace
}  // namespace wonderland::mediator
