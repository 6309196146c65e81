// Time and timers for the engine. The engine never sleeps and never reads the system clock
// directly: it asks a Clock for the time and for timers, so tests drive time by hand.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wonderland/common/time.hpp"

namespace wonderland::workflow {

using TimerId = std::uint64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  /// The current time (UTC).
  virtual SystemTime now() const = 0;
  /// Runs `fn` once, no earlier than `delay` from now, on a thread of the clock's choosing but
  /// never inside schedule() itself. Returns an id for cancel(); never 0.
  virtual TimerId schedule(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  /// Cancels a timer that has not fired; returns whether it was pending.
  virtual bool cancel(TimerId id) = 0;
};

/// Real time: one timer thread runs the callbacks, so they must be quick (post and return).
class SystemClock final : public Clock {
 public:
  SystemClock();
  ~SystemClock() override;
  SystemClock(const SystemClock&) = delete;
  SystemClock& operator=(const SystemClock&) = delete;

  SystemTime now() const override { return std::chrono::system_clock::now(); }
  TimerId schedule(std::chrono::milliseconds delay, std::function<void()> fn) override;
  bool cancel(TimerId id) override;

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  void run();
  void compact();  ///< drops cancelled timers from the heap; the caller holds the mutex

  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  TimerId next_id_ = 1;
  std::priority_queue<std::pair<Deadline, TimerId>, std::vector<std::pair<Deadline, TimerId>>,
                      std::greater<>>
      heap_;
  std::unordered_map<TimerId, std::function<void()>> pending_;
  std::thread thread_;
};

/// Time that moves only when told to. advance() runs due timers, in deadline order (then in
/// scheduling order), on the calling thread; timers they schedule run too if due.
class ManualClock final : public Clock {
 public:
  /// Starts at `start`; by default 2026-01-01T00:00:00Z.
  explicit ManualClock(SystemTime start = SystemTime{std::chrono::seconds(1767225600)});

  SystemTime now() const override;
  TimerId schedule(std::chrono::milliseconds delay, std::function<void()> fn) override;
  bool cancel(TimerId id) override;

  /// Moves time forward by `delta` and runs every timer that became due.
  void advance(std::chrono::milliseconds delta);
  /// How many timers are pending.
  std::size_t pending() const;
  /// Time until the earliest pending timer, or nullopt when none is pending.
  std::optional<std::chrono::milliseconds> next_due() const;

 private:
  mutable std::mutex mutex_;
  SystemTime now_;
  TimerId next_id_ = 1;
  std::map<std::pair<SystemTime, TimerId>, std::function<void()>> timers_;
  std::unordered_map<TimerId, SystemTime> deadlines_;
};

}  // namespace wonderland::workflow
