// The broker settings read by ConnectionOptions::from_env: the URL list and the queue type.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "wonderland/messaging/connection.hpp"

namespace wonderland::messaging {
namespace {

/// Sets the AMQP variables for one test; each test starts without them (the test environment
/// sets WONDERLAND_AMQP_URL) and clears them afterwards.
class ConnectionSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override { TearDown(); }
  void TearDown() override {
    ::unsetenv("WONDERLAND_AMQP_URL");
    ::unsetenv("WONDERLAND_AMQP_QUEUE_TYPE");
  }
  static void set(const char* name, const char* value) { ::setenv(name, value, 1); }
  /// Why from_env refuses the settings; empty when it accepts them.
  static std::string refusal() {
    try {
      ConnectionOptions::from_env("test");
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  }
};

TEST(SplitAmqpUrls, OneUrlIsAListOfOne) {
  EXPECT_EQ(split_amqp_urls("amqp://guest:guest@127.0.0.1:5672/"),
            std::vector<std::string>{"amqp://guest:guest@127.0.0.1:5672/"});
}

TEST(SplitAmqpUrls, SplitsOnCommasAndTrimsSpaces) {
  auto urls = split_amqp_urls(
      "amqp://guest:guest@127.0.0.1:5730/, amqp://guest:guest@127.0.0.1:5731/ ,"
      "amqps://u:p@broker.example:5671/vh");
  ASSERT_EQ(urls.size(), 3U);
  EXPECT_EQ(urls[0], "amqp://guest:guest@127.0.0.1:5730/");
  EXPECT_EQ(urls[1], "amqp://guest:guest@127.0.0.1:5731/");
  EXPECT_EQ(urls[2], "amqps://u:p@broker.example:5671/vh");
}

TEST(SplitAmqpUrls, RefusesAnEmptyEntryOrAMalformedUrl) {
  EXPECT_THROW(split_amqp_urls(""), std::invalid_argument);
  EXPECT_THROW(split_amqp_urls("amqp://127.0.0.1:5730/,"), std::invalid_argument);
  EXPECT_THROW(split_amqp_urls("amqp://127.0.0.1:5730/,,amqp://127.0.0.1:5731/"),
               std::invalid_argument);
  try {
    split_amqp_urls("amqp://127.0.0.1:5730/,http://127.0.0.1:5731/");
    FAIL() << "a malformed URL in the list was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("http://127.0.0.1:5731/"), std::string::npos) << e.what();
  }
}

TEST(ParseQueueType, KnowsClassicAndQuorumOnly) {
  EXPECT_EQ(parse_queue_type("classic"), QueueType::kClassic);
  EXPECT_EQ(parse_queue_type("quorum"), QueueType::kQuorum);
  for (const char* bad : {"", "Quorum", "stream", "quorum "})
    EXPECT_THROW(parse_queue_type(bad), std::invalid_argument) << bad;
}

TEST_F(ConnectionSettingsTest, DefaultsToOneLocalBrokerAndClassicQueues) {
  auto o = ConnectionOptions::from_env("test");
  EXPECT_EQ(o.url, "amqp://guest:guest@127.0.0.1:5672/");
  EXPECT_EQ(o.queue_type, QueueType::kClassic);
}

TEST_F(ConnectionSettingsTest, ReadsAUrlListAndTheQueueType) {
  set("WONDERLAND_AMQP_URL",
      "amqp://guest:guest@127.0.0.1:5730/,amqp://guest:guest@127.0.0.1:5731/");
  set("WONDERLAND_AMQP_QUEUE_TYPE", "quorum");
  auto o = ConnectionOptions::from_env("test");
  EXPECT_EQ(o.url, "amqp://guest:guest@127.0.0.1:5730/,amqp://guest:guest@127.0.0.1:5731/");
  EXPECT_EQ(o.queue_type, QueueType::kQuorum);
}

TEST_F(ConnectionSettingsTest, RefusesABadQueueTypeNamingTheSetting) {
  set("WONDERLAND_AMQP_QUEUE_TYPE", "mirrored");
  EXPECT_NE(refusal().find("WONDERLAND_AMQP_QUEUE_TYPE='mirrored'"), std::string::npos)
      << refusal();
}

TEST_F(ConnectionSettingsTest, RefusesABadUrlInTheListNamingTheSetting) {
  set("WONDERLAND_AMQP_URL", "amqp://guest:guest@127.0.0.1:5730/,nonsense");
  std::string why = refusal();
  EXPECT_NE(why.find("WONDERLAND_AMQP_URL"), std::string::npos) << why;
  EXPECT_NE(why.find("nonsense"), std::string::npos) << why;
}

}  // namespace
}  // namespace wonderland::messaging
