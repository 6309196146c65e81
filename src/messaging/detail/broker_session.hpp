// BrokerSession: what stands behind a Connection. It owns the I/O thread and, through
// ConnectionLifecycle, the socket; every piece of broker state (the channel, publishes awaiting
// their confirm, RPC calls, consumers, the declared topology) is touched only on that thread.
// Other threads hand it work through `post`. Each concern is a part of its own:
//   ConnectionLifecycle  connecting, heartbeats, reconnecting
//   Publisher            publish tracking and publisher confirms
//   RpcCalls             RPC requests, replies and deadlines
//   Consumers            consumers and the dispatch of deliveries (retries: Redelivery)
//   DeclaredTopology     declarations and their re-declaration after a reconnect
// The session runs the loop that drives them and serves the blocking calls of Connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "detail/amqp.hpp"
#include "detail/connection_lifecycle.hpp"
#include "detail/consumers.hpp"
#include "detail/declared_topology.hpp"
#include "detail/publisher.hpp"
#include "detail/rpc_calls.hpp"
#include "detail/session_counters.hpp"
#include "detail/timer_queue.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/consumer.hpp"
#include "wonderland/messaging/rpc.hpp"

namespace wonderland::messaging::detail {

class BrokerSession : public std::enable_shared_from_this<BrokerSession> {
 public:
  explicit BrokerSession(ConnectionOptions options);
  ~BrokerSession();
  BrokerSession(const BrokerSession&) = delete;
  BrokerSession& operator=(const BrokerSession&) = delete;

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
  Result<QueueStatus> queue_status(const QueueName& queue, std::chrono::milliseconds timeout);

  bool connected() const { return lifecycle_.connected(); }
  std::string broker_address() const { return lifecycle_.address(); }
  bool wait_connected(std::chrono::milliseconds timeout) const;
  ConnectionStats stats() const { return counters_.snapshot(); }

  // For the parts of the session; any thread.
  /// Bookkeeping for the I/O thread that writes nothing to the broker (registering an RPC
  /// call): unlike a std::function, it does not make a batch of operations cork the socket.
  struct LocalOp {
    std::function<void()> fn;
  };
  using Op = std::variant<std::function<void()>, PendingPublish, LocalOp>;
  /// Runs `op` on the I/O thread; a publish posted after shutdown fails with `cancelled`.
  void post(Op op);
  /// Runs `ops` on the I/O thread in their order, woken once: posted one by one, the thread may
  /// wake for the first, drain it and go back to sleep before the second comes.
  void post(std::span<Op> ops);
  std::uint64_t next_id() { return next_id_++; }
  SessionCounters& counters() { return counters_; }

  // For the parts of the session; I/O thread only.
  AmqpChannel* channel() const { return lifecycle_.channel(); }
  std::uint64_t generation() const { return lifecycle_.generation(); }
  /// Drops the connection: every part forgets what died with it; reconnects at once or later.
  void disconnect(const std::string& reason, bool immediate_reconnect);
  TimerQueue& timers() { return timers_; }
  Publisher& publisher() { return publisher_; }

 private:
  /// Runs `op` with the channel on the I/O thread and waits up to `timeout` for it; broker
  /// errors become `unavailable` (and drop the connection), a late answer `deadline_exceeded`.
  void on_channel_and_wait(const char* what, std::chrono::milliseconds timeout,
                           std::function<void(AmqpChannel&)> op);
  void wake();
  /// Throws failed_precondition on the I/O thread: a blocking call there would wait for the
  /// thread it blocks, until its timeout, with the connection's heartbeats, replies and confirms.
  void refuse_blocking_on_io_thread(const char* what) const;

  // I/O thread only.
  void run();
  void run_ops();
  /// Sends what the corked channel holds; a failure drops the connection.
  void uncork();
  /// Logs a warning when the loop spent a second or more on `what` since `since`.
  static void warn_if_busy(const char* what, Clock::time_point since);
  void connect();
  void restore(AmqpChannel& channel);
  void service_channel(bool readable);
  void read_events();
  void dispatch(Event& ev);
  int poll_timeout_ms();
  void fail_everything();

  ConnectionOptions options_;
  SessionCounters counters_;
  std::atomic<std::uint64_t> next_id_{1};

  // Cross-thread: the operations for the I/O thread and what wakes it.
  mutable std::mutex mu_;
  std::vector<Op> ops_;
  bool wake_pending_ = false;
  bool stopped_ = false;
  int wake_fd_ = -1;
  std::thread io_thread_;
  std::atomic<std::thread::id> io_thread_id_{};  // set by the thread itself
  std::atomic<bool> stop_{false};

  // The parts (I/O thread, except where they say otherwise).
  ConnectionLifecycle lifecycle_;
  TimerQueue timers_;
  Publisher publisher_;
  RpcCalls rpcs_;
  Consumers consumers_;
  DeclaredTopology topology_;
};

}  // namespace wonderland::messaging::detail
