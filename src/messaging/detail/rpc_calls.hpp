// RpcCalls: the client side of RPC in a broker session. A request goes out with the session's
// direct reply-to address and a correlation id; RpcCalls keeps each call until its reply comes
// back on that address, its deadline passes, or the connection it left on is lost.
// Not thread-safe: everything but `call` runs on the session's I/O thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "detail/amqp.hpp"
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
  bool is_reply(const DeliverEvent& ev) const { return ev.consumer_tag == reply_tag_; }
  void on_reply(const DeliverEvent& ev);
  /// The connection is gone: calls sent on it fail, their reply can no longer come.
  void on_disconnect(const std::string& reason);
  /// Completes every call with `e` (the session shuts down).
  void fail_all(const Error& e);

 private:
  struct Pending {
    RpcCallback done;
    std::uint64_t sent_generation = 0;  ///< 0 while not yet sent
  };
  void complete(std::uint64_t id, Result<Envelope> result);

  BrokerSession& session_;
  std::unordered_map<std::uint64_t, Pending> calls_;
  std::string reply_tag_;
};

}  // namespace wonderland::messaging::detail
