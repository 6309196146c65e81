// Shared helpers of the HTTP server tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "wonderland/testing/http_client.hpp"

namespace wonderland::http::testing {

/// A client whose connection is open already (the server tests count connections), with a
/// short timeout so that a server that does not answer fails the test quickly.
inline wonderland::testing::HttpClient connected_client(
    std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  wonderland::testing::HttpClient client(port, "127.0.0.1", timeout);
  client.connect();
  return client;
}

/// One thread running submitted jobs in order: the "RPC thread" that completes requests.
class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void submit(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
  }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty())
        return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace wonderland::http::testing
