// The engine behind a Connection: owns the I/O thread and, through AmqpChannel, the socket.
// All broker state (channel, pending confirms, RPCs, consumers) is touched only on the I/O
// thread; other threads hand it work through `post`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "detail/amqp.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/consumer.hpp"
#include "wonderland/messaging/rpc.hpp"

namespace wonderland::messaging::detail {

using Clock = std::chrono::steady_clock;

/// Runs jobs on a fixed set of threads; `stop` runs what is queued, then joins.
class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  void post(std::function<void()> job);
  void stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

using Declaration = std::variant<ExchangeSpec, QueueSpec, BindingSpec>;

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  explicit Engine(ConnectionOptions options);
  ~Engine();

  void start();
  /// Stops the I/O thread and every consumer; pending work completes with `cancelled`.
  void shutdown();

  const ConnectionOptions& options() const { return options_; }

  void declare(Declaration d, std::chrono::milliseconds timeout);
  void delete_queue(const QueueName& queue, std::chrono::milliseconds timeout);
  void delete_exchange(const ExchangeName& exchange, std::chrono::milliseconds timeout);
  void publish(Outgoing message, PublishCallback done);
  std::uint64_t add_consumer(ConsumerOptions options, Handler handler);
  void remove_consumer(std::uint64_t id);
  void rpc_call(RpcRequest request, RpcCallback done);
  std::optional<RawMessage> get(const QueueName& queue, std::chrono::milliseconds timeout);
  std::uint64_t message_count(const QueueName& queue, std::chrono::milliseconds timeout);

  bool connected() const { return connected_.load(); }
  bool wait_connected(std::chrono::milliseconds timeout) const;
  ConnectionStats stats() const;

 private:
  /// Runs `op` with the channel on the I/O thread and waits up to `timeout` for it; broker
  /// errors become `unavailable` (and drop the connection), a late answer `deadline_exceeded`.
  void on_channel_and_wait(const char* what, std::chrono::milliseconds timeout,
                           std::function<void(AmqpChannel&)> op);

  struct PendingPublish {
    std::uint64_t id = 0;
    std::string exchange;
    std::string routing_key;
    Properties properties;
    std::string body;
    bool mandatory = false;
    Clock::time_point deadline;
    PublishCallback done;
    bool resend_on_reconnect = true;  ///< user publishes survive a reconnect; RPC/internal don't
    std::uint64_t sequence = 0;       ///< delivery tag of this publish on the current channel
    bool returned = false;
  };
  struct PendingRpc {
    RpcCallback done;
    std::uint64_t sent_generation = 0;  ///< 0 while not yet sent
  };
  struct ConsumerState;
  struct Job;
  struct Timer {
    Clock::time_point at;
    std::uint64_t order;
    std::function<void()> fire;
    /// When set and false, the timer has nothing left to do: it is dropped without waking the
    /// I/O thread (an RPC's timeout once the reply came, a publish's once it was confirmed).
    std::function<bool()> live;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  struct PendingDeclare {
    Declaration declaration;
    std::shared_ptr<std::promise<void>> promise;
  };
  using Op = std::variant<std::function<void()>, PendingPublish>;

  // Any thread.
  void post(Op op);
  bool on_io_thread() const { return std::this_thread::get_id() == io_thread_id_; }

  // I/O thread only.
  void run();
  void run_ops();
  void try_connect();
  void disconnect(const std::string& reason, bool immediate_reconnect);
  void apply(const Declaration& d);
  void record(const Declaration& d);
  void send(PendingPublish p);
  void fail_publish(PendingPublish& p, const Error& e);
  void start_consumer(ConsumerState& c);
  void read_events();
  void on_deliver(DeliverEvent ev);
  void on_reply(DeliverEvent ev);
  void on_confirm(const ConfirmEvent& ev);
  void on_return(const ReturnEvent& ev);
  void handle_job(ConsumerState& c, Job job);
  void finish_job(const std::shared_ptr<ConsumerState>& c, Job job, std::string failure,
                  bool poison);
  void republish(Job job, const std::string& queue, int attempt, const std::string& reason,
                 bool dead_letter);
  void ack(std::uint64_t generation, std::uint64_t delivery_tag);
  void complete_rpc(std::uint64_t id, Result<Envelope> result);
  /// A queue declaration the broker refused because the queue exists with other arguments:
  /// returns the passive declaration to use instead (and warns), or nullopt when the spec does
  /// not accept existing arguments.
  std::optional<QueueSpec> accept_existing(const Declaration& d, const AmqpError& e);
  void schedule(Clock::time_point at, std::function<void()> fire, std::function<bool()> live = {});
  void run_timers();
  void drop_dead_timers();
  int poll_timeout_ms();
  void fail_everything();

  ConnectionOptions options_;
  UrlParts url_;

  // Cross-thread.
  mutable std::mutex mu_;
  std::vector<Op> ops_;
  bool wake_pending_ = false;
  bool stopped_ = false;
  int wake_fd_ = -1;
  std::thread io_thread_;
  std::thread::id io_thread_id_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  mutable std::mutex connected_mu_;
  mutable std::condition_variable connected_cv_;
  std::atomic<std::uint64_t> next_id_{1};
  struct AtomicStats {
    std::atomic<std::uint64_t> connects{0}, published{0}, confirmed{0}, publish_failures{0},
        delivered{0}, dead_lettered{0};
  } stats_;

  // Consumers are shared with the threads that run their handlers.
  std::mutex consumers_mu_;
  std::map<std::uint64_t, std::shared_ptr<ConsumerState>> consumers_;

  // I/O thread only.
  std::unique_ptr<AmqpChannel> channel_;
  std::uint64_t generation_ = 0;
  std::uint64_t publish_sequence_ = 0;
  std::string reply_tag_;
  std::map<std::uint64_t, PendingPublish> waiting_;    ///< by id, while disconnected
  std::map<std::uint64_t, PendingPublish> unconfirmed_;  ///< by sequence
  std::unordered_map<std::string, std::uint64_t> mandatory_by_message_id_;
  std::unordered_map<std::uint64_t, PendingRpc> rpcs_;
  std::unordered_map<std::string, std::shared_ptr<ConsumerState>> by_tag_;
  std::vector<Declaration> topology_;
  std::vector<PendingDeclare> pending_declares_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::uint64_t timer_order_ = 0;
  Clock::time_point next_connect_at_{};
  int failed_connects_ = 0;
  Clock::time_point last_received_{};
  Clock::time_point last_heartbeat_check_{};
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace wonderland::messaging::detail
