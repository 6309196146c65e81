// The bundled workflow definitions name commands and events as data: each one that belongs to
// the payment or inventory service, or that the notification service consumes, must be one of
// the names their protocol headers declare.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "wonderland/inventory/protocol.hpp"
#include "wonderland/notification/protocol.hpp"
#include "wonderland/payment/protocol.hpp"

namespace wonderland {
namespace {

using nlohmann::json;

struct Named {
  std::string service;  ///< empty for a published topic
  std::string name;
};

/// Every command (with its step's service) and every published topic in `node`.
void collect(const json& node, const std::string& service, std::vector<Named>& out) {
  if (node.is_array()) {
    for (const json& item : node)
      collect(item, service, out);
    return;
  }
  if (!node.is_object())
    return;
  const std::string own = node.value("service", service);
  if (auto action = node.find("action"); action != node.end() && action->is_string())
    out.push_back({own, action->get<std::string>()});
  if (auto topic = node.find("topic"); topic != node.end() && topic->is_string())
    out.push_back({"", topic->get<std::string>()});
  for (const auto& [key, value] : node.items()) {
    if (key != "input")
      collect(value, own, out);
  }
}

template <std::size_t N>
bool declared(const char* const (&names)[N], const std::string& name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

TEST(WorkflowProtocolTest, EveryCommandAndEventOfTheBundledWorkflowsIsDeclared) {
  const std::filesystem::path dir = std::filesystem::path(WONDERLAND_SOURCE_DIR) / "workflows";
  std::vector<Named> named;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json")
      continue;
    std::ifstream in(entry.path());
    collect(json::parse(in), "", named);
  }
  int checked = 0;
  for (const Named& n : named) {
    SCOPED_TRACE(n.service + " " + n.name);
    if (n.service == payment::kService) {
      EXPECT_TRUE(declared(payment::commands::kAll, n.name));
    } else if (n.service == inventory::kService) {
      EXPECT_TRUE(declared(inventory::commands::kAll, n.name));
    } else if (n.service.empty()) {
      EXPECT_TRUE(declared(notification::events::kAll, n.name));
    } else {
      continue;  // another service's command
    }
    ++checked;
  }
  EXPECT_GE(checked, 7);  // price, reserve, release, charge, refund, confirm, the two topics
}

TEST(WorkflowProtocolTest, NamesAreWhatDocsCommandsMdSays) {
  EXPECT_EQ(payment::kCommandQueue.str(), "payment.commands");
  EXPECT_EQ(inventory::kCommandQueue.str(), "inventory.commands");
  EXPECT_EQ(notification::kCommandQueue.str(), "notification.commands");
  EXPECT_EQ(notification::kEventsQueue.str(), "notification.events");
  EXPECT_STREQ(notification::events::kOrderRefunded, "order.refunded");
  for (const char* command : payment::commands::kAll)
    EXPECT_EQ(std::string(command).rfind("payment.", 0), 0u) << command;
  for (const char* command : inventory::commands::kAll)
    EXPECT_EQ(std::string(command).rfind("inventory.", 0), 0u) << command;
}

}  // namespace
}  // namespace wonderland
