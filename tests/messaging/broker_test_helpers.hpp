// Test helpers shared by messaging_rmqtest and messaging_tls_rmqtest: a queue of one test; for
// the fault tests far more publishes than a socket holds, sent while the broker (or a relay in
// front of it) stops reading, and the check that every one of them arrived once it reads again;
// and a log sink that keeps what the connection says.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <mutex>
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

/// Keeps every log line, so that a test can wait for the reason a connection failed.
class CapturingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  /// Number of lines containing every one of `parts`.
  int count(const std::vector<std::string>& parts) {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& line : lines_) {
      bool all = true;
      for (const auto& p : parts)
        all = all && line.find(p) != std::string::npos;
      n += all ? 1 : 0;
    }
    return n;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    lines_.clear();
  }
  std::string all() {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& l : lines_)
      out += l + "\n";
    return out;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

/// Adds a CapturingSink to the default logger for its lifetime. The logger's list of sinks is not
/// safe to change while another thread logs: make and destroy it while no connection exists (in
/// a suite's SetUpTestSuite and TearDownTestSuite).
class LogCapture {
 public:
  LogCapture() { spdlog::default_logger()->sinks().push_back(sink_); }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    std::erase(sinks, std::static_pointer_cast<spdlog::sinks::sink>(sink_));
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  CapturingSink& sink() { return *sink_; }

 private:
  std::shared_ptr<CapturingSink> sink_ = std::make_shared<CapturingSink>();
};

}  // namespace wonderland::messaging::test
