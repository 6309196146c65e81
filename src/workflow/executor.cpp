#include "executor.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace wonderland::workflow::detail {

namespace {

template <typename Fn>
void guarded(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& ex) {  // a throwing callback must not stop the engine
    spdlog::error("workflow engine: {}", ex.what());
  }
}

}  // namespace

void Executor::start(Checkpoint checkpoint) {
  thread_ = std::thread([this, checkpoint = std::move(checkpoint)] {
    thread_id_.store(std::this_thread::get_id());
    loop(checkpoint);
  });
}

void Executor::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (stop_)
      return;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void Executor::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  std::lock_guard lock(mutex_);
  queue_.clear();
}

void Executor::loop(const Checkpoint& checkpoint) {
  std::vector<Task> tasks;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_)
        return;
      tasks.swap(queue_);
    }
    for (auto& task : tasks) {
      guarded(task);
      guarded([&] { checkpoint(false); });
    }
    tasks.clear();
    guarded([&] { checkpoint(true); });  // may act on a batch it wrote: callbacks run there too
  }
}

}  // namespace wonderland::workflow::detail
