// RpcCalls: the client side of RPC in a broker session. A request goes out with the session's
// direct reply-to address and a correlation id; RpcCalls keeps each call until its reply comes
// back on that address, its deadline passes, or the connection it left on is lost.
//
// Publisher confirms, per request: a reply already says that the request arrived, so a confirm
// adds one thing only, the broker's nack when the queue is full (`x-overflow: reject-publish`)
// or, for a quorum queue, has no leader. Without it such a request vanishes and its caller waits
// for its timeout instead of failing at once. A request therefore goes out confirmed (channel 1)
// unless the queue is known to be taking requests: it answered this session within the last
// second and fewer than 64 of this session's calls wait on it. A queue only fills while its
// answers stop or its callers' requests pile up, so the nack still comes where it helps; steady
// traffic to a healthy service pays no confirm (the broker's work and a frame back per request).
// Quorum queues are always confirmed: their nacks tell of a failover. Replies are consumed on
// both channels, since a reply goes to the channel its request left on.
// Not thread-safe: everything but `call` runs on the session's I/O thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "detail/amqp.hpp"
#include "detail/timer_queue.hpp"
#include "wonderland/messaging/rpc.hpp"

namespace wonderland::messaging::detail {

class BrokerSession;

class RpcCalls {
 public:
  explicit RpcCalls(BrokerSession& session);

  /// Sends `request` (any thread); `done` runs once, on the I/O thread, with the reply or error.
  void call(RpcRequest request, RpcCallback done);

  /// A new channel: starts consuming replies on direct reply-to.
  void on_connected(AmqpChannel& channel);
  bool is_reply(const DeliverEvent& ev) const {
    return ev.consumer_tag == reply_tag_ || ev.consumer_tag == unconfirmed_reply_tag_;
  }
  void on_reply(const DeliverEvent& ev);
  /// The connection is gone: calls sent on it fail, their reply can no longer come.
  void on_disconnect(const std::string& reason);
  /// Completes every call with `e` (the session shuts down).
  void fail_all(const Error& e);

 private:
  /// What this session knows of a queue it calls (see above).
  struct Callee {
    std::size_t waiting = 0;  ///< calls sent to it and not yet completed
    Clock::time_point answered{};
  };
  struct Pending {
    RpcCallback done;
    Callee* callee = nullptr;           ///< stable: an entry is dropped only with nothing waiting
    std::uint64_t sent_generation = 0;  ///< 0 while not yet sent
  };
  /// Counts a call to `queue` as waiting; returns its entry.
  Callee& count_call(const std::string& queue);
  /// Whether the next request to `callee` goes out under a publisher confirm.
  bool confirm(const Callee& callee, Clock::time_point now) const;
  void complete(std::uint64_t id, Result<Envelope> result);

  BrokerSession& session_;
  std::unordered_map<std::uint64_t, Pending> calls_;
  std::unordered_map<std::string, Callee> callees_;
  std::string reply_tag_;              ///< on channel 1, for confirmed requests
  std::string unconfirmed_reply_tag_;  ///< on the unconfirmed channel
};

}  // namespace wonderland::messaging::detail
