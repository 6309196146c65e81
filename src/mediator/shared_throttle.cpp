// The sign-in throttles shared through PostgreSQL (throttle.hpp, make_pg_failure_throttle).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "wonderland/common/error.hpp"
#include "wonderland/log/log.hpp"
#include "wonderland/mediator/throttle.hpp"
#include "wonderland/workflow_pg/pg_lockouts.hpp"

namespace wonderland::mediator {
namespace {

/// Every statement of the shared counters runs on this thread, in order: the threads that ask
/// (an HTTP I/O thread for an attempt, the broker's I/O thread for the sign-in's answer) never
/// wait for the database longer than they choose to.
class Background {
 public:
  Background() : thread_([this] { run(); }) {}
  ~Background() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  /// Queues `task`; false when the queue is full (the database is far behind), and the task
  /// is dropped: a failure not taken back only costs a lock-out.
  bool post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      if (tasks_.size() >= kMaxQueued)
        return false;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }

 private:
  static constexpr std::size_t kMaxQueued = 10000;

  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty())
        return;  // stopping, and everything asked for is done
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

class PgFailureThrottle final : public FailureThrottle {
 public:
  PgFailureThrottle(std::unique_ptr<workflow::PgLockouts> store, LockoutPolicy policy,
                    std::string scope)
      : store_(std::move(store)),
        local_(make_memory_failure_throttle(policy)),
        enabled_(policy.enabled()),
        scope_(std::move(scope)) {}

  /// Asks the shared counters, waiting at most kAnswerWithin for them. Without an answer (the
  /// database is down, slow or blackholed) this mediator counts by itself, and keeps doing so
  /// for a back-off (1 s doubling to 30 s) before it asks the database again: an outage costs
  /// a sign-in at most kAnswerWithin once per back-off, never a connect timeout per sign-in.
  Verdict attempt(const std::string& key) override {
    if (!enabled_)
      return {};
    const auto now = std::chrono::steady_clock::now();
    if (shared_paused(now))
      return local_->attempt(key);
    auto answer = std::make_shared<std::promise<Result<workflow::PgLockoutVerdict>>>();
    auto future = answer->get_future();
    const bool queued =
        background_.post([this, key, answer] { answer->set_value(store_->attempt(key)); });
    if (!queued || future.wait_for(kAnswerWithin) != std::future_status::ready) {
      pause_shared(
          now, Error{codes::kUnavailable,
                     queued ? "no answer within " + std::to_string(kAnswerWithin.count()) + " ms"
                            : "too many statements waiting"});
      return local_->attempt(key);
    }
    Result<workflow::PgLockoutVerdict> shared = future.get();
    if (!shared.ok()) {
      pause_shared(now, shared.error());
      return local_->attempt(key);
    }
    resume_shared();
    return {shared->allowed, shared->retry_after};
  }

  void forgive(const std::string& key) override {
    if (!enabled_)
      return;
    local_->forgive(key);
    later([this, key] { return store_->forgive(key); });
  }

  void reset(const std::string& key) override {
    if (!enabled_)
      return;
    local_->reset(key);
    later([this, key] { return store_->reset(key); });
  }

 private:
  /// Runs `op` on the database in the background; its error is logged.
  void later(std::function<Status()> op) {
    (void)background_.post([this, op = std::move(op)] {
      if (Status st = op(); !st)
        complain(st.error());
    });
  }

  static constexpr std::chrono::milliseconds kAnswerWithin{250};
  static constexpr std::chrono::milliseconds kFirstPause{1000};
  static constexpr std::chrono::milliseconds kLongestPause{30000};

  bool shared_paused(std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mu_);
    return now < paused_until_;
  }

  /// The shared counters failed to answer: count here alone for the next back-off.
  void pause_shared(std::chrono::steady_clock::time_point now, const Error& why) {
    {
      std::lock_guard lock(mu_);
      paused_until_ = now + pause_;
      pause_ = std::min(pause_ * 2, kLongestPause);
    }
    complain(why);
  }

  void resume_shared() {
    std::lock_guard lock(mu_);
    pause_ = kFirstPause;
  }

  /// Logs the database's error, at most every 10 s.
  void complain(const Error& e) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu_);
      if (complained_ && now - last_complaint_ < std::chrono::seconds(10))
        return;
      complained_ = true;
      last_complaint_ = now;
    }
    log::error(
        "sign-in throttle {}: the shared counters are out of reach ({}); counting in this "
        "mediator only meanwhile",
        scope_, e.message);
  }

  std::unique_ptr<workflow::PgLockouts> store_;
  std::unique_ptr<FailureThrottle> local_;  ///< while the database is out of reach
  const bool enabled_;
  const std::string scope_;
  std::mutex mu_;
  bool complained_ = false;
  std::chrono::steady_clock::time_point last_complaint_{};
  std::chrono::steady_clock::time_point paused_until_{};
  std::chrono::milliseconds pause_{kFirstPause};
  Background background_;  // last: its thread stops before the store goes
};

}  // namespace

std::unique_ptr<FailureThrottle> make_pg_failure_throttle(LockoutPolicy policy,
                                                          const std::string& url,
                                                          const std::string& schema,
                                                          const std::string& scope) {
  auto store = workflow::PgLockouts::create({.url = url,
                                             .schema = schema,
                                             .scope = scope,
                                             .free_failures = policy.free_failures,
                                             .base_lockout = policy.base_lockout,
                                             .max_lockout = policy.max_lockout,
                                             .forget_after = policy.forget_after});
  if (!store)
    throw std::invalid_argument(store.error().message);
  return std::make_unique<PgFailureThrottle>(std::move(*store), policy, scope);
}

void share_sign_in_throttles(Throttles& throttles, const ThrottleConfig& config,
                             const std::string& url, const std::string& schema) {
  throttles.sign_in_user =
      make_pg_failure_throttle(config.sign_in_user, url, schema, "sign_in_user");
  throttles.sign_in_address =
      make_pg_failure_throttle(config.sign_in_address, url, schema, "sign_in_address");
}

}  // namespace wonderland::mediator
