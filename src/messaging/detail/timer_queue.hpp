// TimerQueue: the deadlines of a broker session (publish and RPC timeouts, retry back-off),
// fired by its I/O thread between two polls of the socket. Not thread-safe: I/O thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

namespace wonderland::messaging::detail {

using Clock = std::chrono::steady_clock;

class TimerQueue {
 public:
  /// Runs `fire` at `at` or soon after. When `live` is set and returns false, the timer has
  /// nothing left to do: it is dropped without waking the I/O thread (an RPC's timeout once the
  /// reply came, a publish's once it was confirmed).
  void schedule(Clock::time_point at, std::function<void()> fire, std::function<bool()> live = {});
  /// Fires every timer that is due, then drops the dead ones at the front.
  void run_due();
  /// When the next live timer is due; nullopt when there is none.
  std::optional<Clock::time_point> next_due();

 private:
  struct Timer {
    Clock::time_point at;
    std::uint64_t order;
    std::function<void()> fire;
    std::function<bool()> live;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  void drop_dead();

  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::uint64_t order_ = 0;
};

}  // namespace wonderland::messaging::detail
