#include "wonderland/workflow/clock.hpp"

namespace wonderland::workflow {

SystemClock::SystemClock() : thread_([this] { run(); }) {}

SystemClock::~SystemClock() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

TimerId SystemClock::schedule(std::chrono::milliseconds delay, std::function<void()> fn) {
  Deadline due = std::chrono::steady_clock::now() + delay;
  TimerId id;
  bool earliest;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    earliest = heap_.empty() || due < heap_.top().first;
    heap_.emplace(due, id);
    pending_.emplace(id, std::move(fn));
    if (heap_.size() > 4 * pending_.size() + 4096)
      compact();
  }
  if (earliest)
    cv_.notify_one();
  return id;
}

bool SystemClock::cancel(TimerId id) {
  std::lock_guard lock(mutex_);
  return pending_.erase(id) > 0;  // its heap entry is skipped when it comes up
}

void SystemClock::compact() {
  // Cancelled timers stay in the heap until they come up; with long timeouts they would pile up.
  std::vector<std::pair<Deadline, TimerId>> live;
  live.reserve(pending_.size());
  while (!heap_.empty()) {
    if (pending_.count(heap_.top().second) != 0)
      live.push_back(heap_.top());
    heap_.pop();
  }
  for (auto& entry : live)
    heap_.push(entry);
}

void SystemClock::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (heap_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto [due, id] = heap_.top();
    if (pending_.count(id) == 0) {
      // Cancelled (step timeouts nearly always are): drop it now rather than waking up for it.
      heap_.pop();
      continue;
    }
    if (std::chrono::steady_clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    heap_.pop();
    auto it = pending_.find(id);
    if (it == pending_.end())
      continue;
    std::function<void()> fn = std::move(it->second);
    pending_.erase(it);
    lock.unlock();
    fn();
    lock.lock();
  }
}

ManualClock::ManualClock(SystemTime start) : now_(start) {}

SystemTime ManualClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

TimerId ManualClock::schedule(std::chrono::milliseconds delay, std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  TimerId id = next_id_++;
  SystemTime due = now_ + delay;
  timers_.emplace(std::make_pair(due, id), std::move(fn));
  deadlines_.emplace(id, due);
  return id;
}

bool ManualClock::cancel(TimerId id) {
  std::lock_guard lock(mutex_);
  auto it = deadlines_.find(id);
  if (it == deadlines_.end())
    return false;
  timers_.erase(std::make_pair(it->second, id));
  deadlines_.erase(it);
  return true;
}

void ManualClock::advance(std::chrono::milliseconds delta) {
  std::unique_lock lock(mutex_);
  now_ += delta;
  while (!timers_.empty() && timers_.begin()->first.first <= now_) {
    auto node = timers_.extract(timers_.begin());
    deadlines_.erase(node.key().second);
    lock.unlock();
    node.mapped()();
    lock.lock();
  }
}

std::size_t ManualClock::pending() const {
  std::lock_guard lock(mutex_);
  return timers_.size();
}

std::optional<std::chrono::milliseconds> ManualClock::next_due() const {
  std::lock_guard lock(mutex_);
  if (timers_.empty())
    return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(timers_.begin()->first.first - now_);
}

}  // namespace wonderland::workflow
