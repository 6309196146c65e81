// ConnectionLifecycle: the connection of a broker session over time. It opens a connection (to
// one of the broker addresses in turn, starting after the one that failed last) and
// its channel, counts generations (one per connection, so that work tied to a dead one is
// recognised), watches heartbeats, and after a failure schedules the next attempt with
// exponential back-off and jitter. `connected` and `wait_connected` work from any thread; the
// rest belongs to the session's I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "detail/amqp.hpp"
#include "detail/session_counters.hpp"
#include "detail/timer_queue.hpp"
#include "wonderland/messaging/connection.hpp"

namespace wonderland::messaging::detail {

class ConnectionLifecycle {
 public:
  ConnectionLifecycle(const ConnectionOptions& options, SessionCounters& counters);

  /// The channel of the current connection; null while disconnected.
  AmqpChannel* channel() const { return channel_.get(); }
  /// Increases with every connection.
  std::uint64_t generation() const { return generation_; }

  // Any thread.
  bool connected() const { return connected_.load(); }
  bool wait_connected(std::chrono::milliseconds timeout) const;
  /// host:port of the node connected to; empty while disconnected.
  std::string address() const;

  // I/O thread only.
  /// Whether it is time to try to connect.
  bool connect_due() const { return !channel_ && Clock::now() >= next_connect_at_; }
  /// Opens a connection and its channel (in confirm mode when configured): a new generation.
  /// Throws when the broker cannot be reached or refuses.
  AmqpChannel& open();
  /// The session restored its state on the new channel: the connection is up.
  void established();
  /// A failed attempt to connect: logged now and then, not every time.
  void connect_failed(const std::exception& e);
  /// Closes the channel (the connection is lost).
  void close(const std::string& reason);
  /// Schedules the next attempt to connect, at once or after the back-off.
  void schedule_reconnect(bool immediate);
  /// Closes for good (the session shuts down).
  void shut_down();

  /// Whether to read from the socket now: it is readable or holds buffered frames.
  bool read_due(bool readable, Clock::time_point now);
  /// Whether to send a heartbeat now (every half heartbeat interval); counts it as sent.
  bool heartbeat_due(Clock::time_point now);
  /// Whether the broker has been silent for more than two heartbeats and a second.
  bool heartbeats_missed(Clock::time_point now);
  /// The earliest of `limit`, the next heartbeat to send and the next connection attempt.
  Clock::time_point next_wakeup(Clock::time_point limit) const;

 private:
  void set_connected(bool connected);
  const UrlParts& url() const { return urls_[current_]; }
  /// Moves on to the next address (after a failure on the current one).
  void next_url();
  /// Counts the broker as heard at `now` when the socket received bytes since the last look.
  void look_at_socket(Clock::time_point now);
  /// The agreed heartbeat interval, in milliseconds so that a fraction of it is never rounded
  /// down to zero (which would send a heartbeat on every wake-up).
  std::chrono::milliseconds heartbeat() const {
    return std::chrono::seconds(channel_->heartbeat_s());
  }

  const ConnectionOptions& options_;
  SessionCounters& counters_;
  /// The nodes to connect to, and the one in use or tried next.
  std::vector<UrlParts> urls_;
  std::size_t current_ = 0;
  std::unique_ptr<AmqpChannel> channel_;
  std::uint64_t generation_ = 0;

  std::atomic<bool> connected_{false};
  std::string address_;  ///< guarded by connected_mu_
  mutable std::mutex connected_mu_;
  mutable std::condition_variable connected_cv_;

  /// A connection that lasted this long resets the back-off when it is lost; one lost sooner
  /// counts as a failed attempt.
  static constexpr std::chrono::seconds kStableAfter{10};

  Clock::time_point next_connect_at_ = Clock::now();
  int failed_connects_ = 0;
  /// Failed attempts since the start or the last lost connection: the first of them, and every
  /// tenth, is logged. Not failed_connects_, which a short-lived connection does not reset.
  int failures_since_loss_ = 0;
  Clock::time_point established_at_{};
  /// When the broker was last heard: the socket was readable, or it had received more bytes.
  Clock::time_point last_received_{};
  /// The bytes the socket had received (TCP_INFO) when last looked at. rabbitmq-c reads the
  /// broker's answers to synchronous methods inside the call, so the socket is never readable for
  /// the session on a connection whose only traffic they are (the broker, busy answering, then
  /// sends no heartbeat): the count still moves.
  std::uint64_t bytes_received_ = 0;
  Clock::time_point last_heartbeat_sent_{};
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace wonderland::messaging::detail
