// Test helpers shared by messaging_rmqtest and messaging_tls_rmqtest: a queue of one test, and
// for the fault tests far more publishes than a socket holds, sent while the broker (or a relay
// in front of it) stops reading, and the check that every one of them arrived once it reads
// again.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <future>
#include <string>
#include <vector>

#include "wonderland/messaging/connection.hpp"
#include "wonderland/testing/broker.hpp"

namespace wonderland::messaging::test {

/// Declares a new transient queue named after `prefix`, which the broker deletes a minute after
/// its last use should the test end before deleting it.
inline QueueName declare_scratch_queue(Connection& conn, const std::string& prefix) {
  QueueName q{testing::unique_name(prefix)};
  QueueSpec spec;
  spec.name = q;
  spec.durable = false;
  spec.expires = std::chrono::seconds(60);
  conn.declare(spec);
  return q;
}

/// Publishes `count` messages of 1 MiB each to `queue` through the default exchange, each
/// waiting up to `timeout` for its confirm.
inline std::vector<std::future<Status>> publish_mebibytes(Connection& conn, const QueueName& queue,
                                                          int count,
                                                          std::chrono::milliseconds timeout) {
  const std::string pad(std::size_t{1} << 20, 'x');
  std::vector<std::future<Status>> sent;
  for (int i = 0; i < count; ++i) {
    Outgoing m{exchanges::kDefault, queue.str(),
               Envelope::make("test.big", {{"i", i}, {"pad", pad}})};
    m.timeout = timeout;
    sent.push_back(conn.publish(std::move(m)));
  }
  return sent;
}

/// Every publish in `sent` was confirmed, and `queue` holds at least that many messages (at
/// least once: a message sent again after a reconnect may be there twice).
inline void expect_confirmed_and_queued(Connection& conn, const QueueName& queue,
                                        std::vector<std::future<Status>>& sent) {
  for (auto& f : sent) {
    Status s = f.get();
    EXPECT_TRUE(s.ok()) << s.error().message;
  }
  auto status = conn.queue_status(queue, std::chrono::seconds(10));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_GE(status.value().messages, sent.size());
}

}  // namespace wonderland::messaging::test
