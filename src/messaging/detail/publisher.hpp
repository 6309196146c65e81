// Publisher: the publishes of a broker session, from the caller's Outgoing to the outcome its
// callback gets. It holds publishes back while the session is disconnected, tracks each sent one
// until the broker confirms it (publisher confirms), notices mandatory messages the broker
// returned, and on a lost connection sends the unconfirmed ones again or fails them.
// Not thread-safe: everything but `prepare` runs on the session's I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>

#include "detail/amqp.hpp"
#include "detail/timer_queue.hpp"
#include "wonderland/messaging/connection.hpp"

namespace wonderland::messaging::detail {

class BrokerSession;

/// One publish on its way to the broker.
struct PendingPublish {
  std::uint64_t id = 0;
  std::string exchange;
  std::string routing_key;
  Properties properties;
  std::string body;
  bool mandatory = false;
  bool confirmed = true;  ///< false: sent on the unconfirmed channel (Outgoing::unconfirmed)
  Clock::time_point deadline;
  PublishCallback done;
  bool resend_on_reconnect = true;  ///< user publishes survive a reconnect; RPC/internal don't
  /// Runs when the message has been handed to the broker (an RPC notes the connection it left on).
  std::function<void()> sent;
  std::uint64_t sequence = 0;  ///< delivery tag of this publish on the current channel
  bool returned = false;
};

class Publisher {
 public:
  explicit Publisher(BrokerSession& session);

  /// The publish of `message` (any thread): properties, body and deadline.
  PendingPublish prepare(Outgoing message, PublishCallback done) const;

  /// Sends now, or holds it until the connection is back (up to its deadline).
  void send(PendingPublish p);
  /// Completes `p` with `e` (once) and counts the failure.
  void fail(PendingPublish& p, const Error& e);

  void on_confirm(const ConfirmEvent& ev);
  void on_return(const ReturnEvent& ev);

  /// A new channel: its delivery tags start again from 1.
  void on_new_channel() { sequence_ = 0; }
  /// The session is connected again: sends what waited for it.
  void on_connected();
  /// The connection is gone: unconfirmed publishes wait for the next one, except RPC requests
  /// and internal republishes, which fail (their reply address or delivery died with it).
  void on_disconnect(const std::string& reason);
  /// Fails every publish that waits or is unconfirmed (the session shuts down).
  void fail_all(const Error& e);

 private:
  void hold(PendingPublish p);
  void await_confirm(PendingPublish p);
  void complete(PendingPublish& p, bool ack);
  /// Whether a nack is the stale-leader case of a quorum queue after a failover (see
  /// publisher.cpp); if so, reopens the connection (at most every kRecycleInterval).
  bool recycle_after_nack();
  /// Fails the publish under `key` in `publishes`, if still there, with deadline_exceeded.
  void expire(std::map<std::uint64_t, PendingPublish>& publishes, std::uint64_t key,
              const char* why);

  BrokerSession& session_;
  std::uint64_t sequence_ = 0;
  std::map<std::uint64_t, PendingPublish> waiting_;      ///< by id, while disconnected
  std::map<std::uint64_t, PendingPublish> unconfirmed_;  ///< by sequence
  std::unordered_map<std::string, std::uint64_t> mandatory_by_message_id_;
  bool had_connection_ = false;
  Clock::time_point failover_at_{};        ///< the last reconnect after a lost connection
  Clock::time_point recycled_at_{};        ///< when a nack last reopened the connection
  std::uint64_t recycled_generation_ = 0;  ///< the connection that nack closes
};

}  // namespace wonderland::messaging::detail
