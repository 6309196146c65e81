// TimerQueue: deadlines ordered by time, then by the order they were scheduled in.
#include "detail/timer_queue.hpp"

namespace wonderland::messaging::detail {

void TimerQueue::schedule(Clock::time_point at, std::function<void()> fire,
                          std::function<bool()> live) {
  timers_.push(Timer{at, order_++, std::move(fire), std::move(live)});
}

void TimerQueue::drop_dead() {
  while (!timers_.empty() && timers_.top().live && !timers_.top().live())
    timers_.pop();
}

void TimerQueue::run_due() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.top().at <= now) {
    auto fire = std::move(const_cast<Timer&>(timers_.top()).fire);
    timers_.pop();
    fire();
  }
  drop_dead();
}

std::optional<Clock::time_point> TimerQueue::next_due() {
  drop_dead();
  if (timers_.empty())
    return std::nullopt;
  return timers_.top().at;
}

}  // namespace wonderland::messaging::detail
