// runtime::Periodic: the thread, its interruptible wait and its guard against a throwing task.
#include "wonderland/runtime/periodic.hpp"

#include <exception>
#include <utility>

#include "wonderland/log/log.hpp"

namespace wonderland::runtime {

Periodic::Periodic(std::string name, std::chrono::milliseconds interval, std::function<void()> task,
                   First first)
    : name_(std::move(name)),
      interval_(interval),
      task_(std::move(task)),
      thread_([this, first] { run(first); }) {}

Periodic::~Periodic() {
  stop();
}

void Periodic::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void Periodic::run(First first) {
  std::unique_lock lock(mu_);
  if (first == First::kAtStart && !stopping_) {
    lock.unlock();
    run_task_once();
    lock.lock();
  }
  while (!stop_cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    run_task_once();
    lock.lock();
  }
}

void Periodic::run_task_once() {
  try {
    task_();
  } catch (const std::exception& e) {
    log::error("{}: periodic task failed: {}", name_, e.what());
  } catch (...) {
    log::error("{}: periodic task failed with a non-standard exception", name_);
  }
}

}  // namespace wonderland::runtime
