// The real wonderland-healthcheck binary against the test broker: a queue without a consumer,
// with one, a missing queue, an unreachable broker and a cluster list whose first node is down.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/ports.hpp"
#include "wonderland/testing/process.hpp"

namespace wonderland {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Outcome {
  int status = -1;
  std::string output;
  std::chrono::milliseconds took{0};
};

/// Runs the binary to its end with `args` and WONDERLAND_AMQP_URL = `url`.
Outcome healthcheck(const std::vector<std::string>& args, const std::string& url) {
  const auto log = std::filesystem::temp_directory_path() / ("wl-healthcheck-" + new_uuid());
  testing::ChildProcess process(testing::binary_path("wonderland-healthcheck"),
                                {{"WONDERLAND_AMQP_URL", url}}, log.string(), args);
  const auto start = Clock::now();
  process.start();
  EXPECT_TRUE(testing::eventually([&] { return !process.running(); }, 20s));
  Outcome out;
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  out.status = process.exit_status();
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  out.output = text.str();
  std::filesystem::remove(log);
  return out;
}

class HealthcheckTest : public ::testing::Test {
 protected:
  HealthcheckTest() : conn_(messaging::ConnectionOptions{.url = testing::amqp_url()}) {
    messaging::QueueSpec spec;
    spec.name = queue_;
    spec.durable = false;
    spec.expires = 60s;  // the broker removes it even if the test dies
    conn_.declare(spec);
  }
  ~HealthcheckTest() override {
    try {
      conn_.delete_queue(queue_);
      conn_.delete_queue(messaging::dead_letter_queue_for(queue_));
    } catch (const std::exception&) {
    }
  }

  messaging::Connection conn_;
  messaging::QueueName queue_{testing::unique_name("healthcheck")};
};

TEST_F(HealthcheckTest, AQueueMustExistAndHaveAConsumer) {
  Outcome idle = healthcheck({queue_.str()}, testing::amqp_url());
  EXPECT_EQ(idle.status, 1) << idle.output;
  EXPECT_NE(idle.output.find("queue '" + queue_.str() + "' has no consumer"), std::string::npos)
      << idle.output;

  messaging::Connection service(messaging::ConnectionOptions{.url = testing::amqp_url()});
  auto consumer =
      service.consume(messaging::ConsumerOptions{queue_},
                      [](const messaging::Envelope&, const messaging::DeliveryInfo&) {});
  ASSERT_TRUE(testing::eventually(
      [&] {
        auto s = conn_.queue_status(queue_);
        return s.ok() && s->consumers == 1;
      },
      10s));
  Outcome served = healthcheck({queue_.str()}, testing::amqp_url());
  EXPECT_EQ(served.status, 0) << served.output;
  EXPECT_EQ(served.output, "");
  EXPECT_LT(served.took, 3s);

  const std::string missing = testing::unique_name("missing");
  Outcome absent = healthcheck({queue_.str(), missing}, testing::amqp_url());
  EXPECT_EQ(absent.status, 1) << absent.output;
  EXPECT_NE(absent.output.find("queue '" + missing + "' does not exist"), std::string::npos)
      << absent.output;
  EXPECT_EQ(absent.output.find(queue_.str()), std::string::npos) << absent.output;
  // One line, whatever is wrong.
  EXPECT_EQ(std::count(absent.output.begin(), absent.output.end(), '\n'), 1) << absent.output;

  // A cluster's list: the first node is down, the next one answers. Nothing listens on a reserved
  // port, and no other test starts listening on it meanwhile.
  const auto down_port = testing::PortReservation::reserve();
  const std::string dead_node =
      "amqp://guest:guest@127.0.0.1:" + std::to_string(down_port.first()) + "/";
  Outcome listed = healthcheck({queue_.str()}, dead_node + "," + testing::amqp_url());
  EXPECT_EQ(listed.status, 0) << listed.output;
}

TEST_F(HealthcheckTest, AnUnreachableBrokerIsSaidQuicklyWithoutItsPassword) {
  const auto reserved = testing::PortReservation::reserve();  // nothing listens on it
  const int port = reserved.first();
  Outcome down = healthcheck({"--timeout-ms", "1000", queue_.str()},
                             "amqp://guest:s3cret@127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(down.status, 1) << down.output;
  EXPECT_NE(down.output.find("broker unreachable (amqp://127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << down.output;
  EXPECT_EQ(down.output.find("s3cret"), std::string::npos) << down.output;
  EXPECT_EQ(std::count(down.output.begin(), down.output.end(), '\n'), 1) << down.output;
  EXPECT_LT(down.took, 3s);
}

}  // namespace
}  // namespace wonderland
