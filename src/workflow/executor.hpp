// The engine's one thread: a queue of tasks run in order. Everything that changes workflow
// state runs here, so the engine needs no locks around its instances. After each task, and
// after each drained queue, the executor calls the engine's checkpoint (which flushes the
// journal batch).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace wonderland::workflow::detail {

class Executor {
 public:
  using Task = std::function<void()>;
  /// `drained` is false after a task and true once the tasks taken from the queue all ran.
  using Checkpoint = std::function<void(bool drained)>;

  Executor() = default;
  ~Executor() { stop(); }
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void start(Checkpoint checkpoint);
  /// Queues a task; dropped once stopping. Thread-safe.
  void post(Task task);
  /// Stops and joins the thread; queued tasks are dropped.
  void stop();
  bool on_thread() const { return std::this_thread::get_id() == thread_id_.load(); }
  /// No task is waiting. Thread-safe; on the executor's thread, true means that the next task
  /// is still to be posted.
  bool idle() {
    std::lock_guard lock(mutex_);
    return queue_.empty();
  }

 private:
  void loop(const Checkpoint& checkpoint);

  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Task> queue_;
  bool stop_ = false;
  std::atomic<std::thread::id> thread_id_{};
  std::thread thread_;
};

}  // namespace wonderland::workflow::detail
