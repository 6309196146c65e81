#include "wonderland/testing/broker.hpp"

#include <gtest/gtest.h>

namespace wonderland::testing {
namespace {

TEST(BrokerAddressTest, PortOfReadsTheNumberAfterTheLastColon) {
  EXPECT_EQ(port_of("amqp://guest:guest@127.0.0.1:5673/"), 5673);
  EXPECT_EQ(port_of("rabbitmq-2:5672"), 5672);
}

TEST(BrokerAddressTest, WithPortReplacesOnlyThePort) {
  EXPECT_EQ(with_port("amqp://guest:guest@127.0.0.1:5673/", 41000),
            "amqp://guest:guest@127.0.0.1:41000/");
  EXPECT_EQ(with_port("amqps://u:p@localhost:5671/vhost", 7), "amqps://u:p@localhost:7/vhost");
  EXPECT_EQ(with_port("amqp://u:p@h:5672", 9), "amqp://u:p@h:9");
}

}  // namespace
}  // namespace wonderland::testing
