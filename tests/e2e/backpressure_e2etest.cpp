// End-to-end test of the broker's backpressure: a service that stops taking requests fills its
// command queue up to its limit, and the API then answers at once with 503 and Retry-After
// instead of hanging until a timeout; once the service takes requests again, so does the API.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "wonderland/common/ids.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/testing/broker.hpp"
#include "wonderland/testing/http_client.hpp"
#include "wonderland/testing/system.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using wonderland::testing::HttpClient;
using wonderland::testing::HttpResponse;
using wonderland::testing::System;
using Clock = std::chrono::steady_clock;
namespace messaging = wonderland::messaging;

constexpr char kPassword[] = "correct horse battery";
constexpr int kQueueLimit = 5;

/// Resumes a process stopped with SIGSTOP, whatever happens in the test.
struct Resume {
  pid_t pid;
  ~Resume() { ::kill(pid, SIGCONT); }
};

TEST(BackpressureE2e, AFullCommandQueueIsA503WithRetryAfterAtOnce) {
  wonderland::testing::SystemOptions options{
      .work_dir = WONDERLAND_E2E_WORK_DIR,
      .catalogue = {{"9780000000880", "Backpressure Test", 1000, 10}}};
  options.tag = "bp";
  options.env["customer"] = {{"WONDERLAND_COMMAND_QUEUE_MAX_LENGTH", std::to_string(kQueueLimit)}};
  System system(std::move(options));
  try {
    system.start();
  } catch (const std::exception& e) {
    FAIL() << "the system did not start: " << e.what() << "\n" << system.diagnostics();
  }
  HttpClient http(system.port());
  const std::string username = "bp_" + wonderland::fast_random_hex(4);
  HttpResponse r = http.post_json("/api/customers", json{{"username", username},
                                                         {"email", username + "@example.com"},
                                                         {"password", kPassword},
                                                         {"first_name", "Test"},
                                                         {"last_name", "Backpressure"}});
  ASSERT_EQ(r.status, 201) << describe(r);
  const json credentials{{"username", username}, {"password", kPassword}};

  {
    // The customer service stops taking requests; its queue fills up to the limit (after the
    // few the stopped process had already taken).
    Resume resume{system.process("customer").pid()};
    ASSERT_EQ(::kill(resume.pid, SIGSTOP), 0);
    messaging::ConnectionOptions o;
    o.url = wonderland::testing::amqp_url();
    o.service = "backpressure-test";
    messaging::Connection flood(o);
    const std::string queue = system.queue("customer");
    wonderland::Status refused = wonderland::ok_status();
    int sent = 0;
    for (; sent < 1000 && refused.ok(); ++sent) {
      messaging::Outgoing m{messaging::exchanges::kDefault, queue,
                            messaging::Envelope::make("customer.flood", json::object())};
      m.delivery = messaging::Delivery::kTransient;
      refused = flood.publish(std::move(m)).get();
    }
    ASSERT_FALSE(refused.ok()) << "the queue took " << sent << " requests";
    EXPECT_EQ(refused.error().code, wonderland::codes::kUnavailable);
    EXPECT_EQ(refused.error().message, "the " + queue + " queue is full; try again");
    EXPECT_EQ(flood.message_count(messaging::QueueName{queue}),
              static_cast<std::uint64_t>(kQueueLimit));

    // A sign-in needs the customer service: the API says so at once, and when to come back.
    auto start = Clock::now();
    r = http.post_json("/api/sessions", credentials);
    auto waited = Clock::now() - start;
    EXPECT_EQ(r.status, 503) << describe(r);
    EXPECT_EQ(r.header("content-type").rfind("application/problem+json", 0), 0U) << describe(r);
    EXPECT_FALSE(r.header("retry-after").empty()) << "no Retry-After: " << describe(r);
    EXPECT_LT(waited, 3s) << "the API waited for a timeout instead of failing fast";
  }

  // The service is back: the queue drains and signing in works again.
  bool signed_in = wonderland::testing::eventually(
      [&] { return (r = http.post_json("/api/sessions", credentials)).status == 201; }, 30s);
  EXPECT_TRUE(signed_in) << describe(r);
  system.stop();
  if (!::testing::Test::HasFailure())
    system.remove_files();
}

}  // namespace
