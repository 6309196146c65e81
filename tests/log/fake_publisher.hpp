// A LogPublisher for tests: accepts, fails, blocks inside publish, or holds completions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "wonderland/log/publisher.hpp"

namespace wonderland::log::testing {

class FakePublisher final : public LogPublisher {
 public:
  enum class Mode {
    kAccept,  ///< completes with success before returning
    kFail,    ///< completes with failure before returning
    kBlock,   ///< does not return until the mode changes (then applies the new mode)
    kHold,    ///< returns at once and completes only on complete_held
  };
  struct Published {
    messaging::Envelope envelope;
    Severity severity;
  };

  explicit FakePublisher(Mode mode = Mode::kAccept) : mode_(mode) {}

  void publish(messaging::Envelope envelope, Severity severity, Done done) override {
    std::unique_lock lock(mu_);
    ++attempts_;
    attempt_times_.push_back(std::chrono::steady_clock::now());
    if (mode_ == Mode::kBlock) {
      ++blocked_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return mode_ != Mode::kBlock; });
      --blocked_;
    }
    switch (mode_) {
      case Mode::kAccept:
        published_.push_back({std::move(envelope), severity});
        cv_.notify_all();
        lock.unlock();
        done(true);
        break;
      case Mode::kFail:
        cv_.notify_all();
        lock.unlock();
        done(false);
        break;
      case Mode::kHold:
      case Mode::kBlock:
        held_.push_back({{std::move(envelope), severity}, std::move(done)});
        cv_.notify_all();
        break;
    }
  }

  void set_mode(Mode mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
    cv_.notify_all();
  }

  /// Completes every held publish with `ok` (recording the successful ones as published).
  void complete_held(bool ok) {
    std::vector<std::pair<Published, Done>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
      if (ok) {
        for (auto& h : held)
          published_.push_back(h.first);
      }
      cv_.notify_all();
    }
    for (auto& h : held)
      h.second(ok);
  }

  /// Waits (bounded) until `condition(*this)` holds, re-checking on every publish.
  bool wait_for(const std::function<bool(const FakePublisher&)>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return condition(*this); });
  }

  // Accessors; call them inside wait_for's condition or when the publisher is quiet.
  std::size_t attempts_unlocked() const { return attempts_; }
  std::size_t blocked_unlocked() const { return blocked_; }
  std::size_t held_unlocked() const { return held_.size(); }
  std::size_t published_count_unlocked() const { return published_.size(); }

  std::size_t attempts() const {
    std::lock_guard lock(mu_);
    return attempts_;
  }
  std::size_t held_count() const {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  std::vector<Published> published() const {
    std::lock_guard lock(mu_);
    return published_;
  }
  std::vector<std::chrono::steady_clock::time_point> attempt_times() const {
    std::lock_guard lock(mu_);
    return attempt_times_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Mode mode_;
  std::size_t attempts_ = 0;
  std::size_t blocked_ = 0;
  std::vector<std::chrono::steady_clock::time_point> attempt_times_;
  std::vector<Published> published_;
  std::vector<std::pair<Published, Done>> held_;
};

}  // namespace wonderland::log::testing
