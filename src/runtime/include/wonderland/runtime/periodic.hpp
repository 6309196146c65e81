// A task run every interval on a thread of its own until stopped: outbox flushes, statistics
// reports, retries. Stopping wakes the thread at once instead of waiting out the interval.
//
//   runtime::Periodic flusher("outbox flush", 1000ms, [&] { flush(); });
//   ...
//   flusher.stop();   // or let the destructor stop it
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace wonderland::runtime {

class Periodic {
 public:
  /// When the first run happens.
  enum class First {
    kAfterInterval,  // one interval after the start
    kAtStart,        // at once, then every interval
  };

  /// Starts the thread. `task` runs every `interval` (measured from the end of the previous run)
  /// until stop; an exception it throws is logged with `name` and the next run happens as usual,
  /// so the thread never dies of it.
  Periodic(std::string name, std::chrono::milliseconds interval, std::function<void()> task,
           First first = First::kAfterInterval);
  /// Stops.
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  /// Wakes the thread and joins it: once this returns the task is not running and never runs
  /// again. A run in progress is waited for, not interrupted. Idempotent; not to be called from
  /// the task itself.
  void stop();

 private:
  void run(First first);
  void run_task_once();

  const std::string name_;
  const std::chrono::milliseconds interval_;
  const std::function<void()> task_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything it uses is there
};

}  // namespace wonderland::runtime
