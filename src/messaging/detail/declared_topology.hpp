// DeclaredTopology: the exchanges, queues and bindings a broker session declared. It applies a
// declaration on the current channel (or holds it until the next one), records it, and declares
// everything again on every new connection. A queue that exists with other arguments is used as
// it is when its spec accepts that (passively declared, with a warning).
// Not thread-safe: I/O thread of the session only.
#pragma once

#include <future>
#include <memory>
#include <variant>
#include <vector>

#include "detail/amqp.hpp"
#include "wonderland/messaging/topology.hpp"

namespace wonderland::messaging::detail {

class BrokerSession;

using Declaration = std::variant<ExchangeSpec, QueueSpec, BindingSpec>;

class DeclaredTopology {
 public:
  explicit DeclaredTopology(BrokerSession& session);

  /// Declares `d` and records it; `promise` gets the broker's answer (or the refusal).
  void declare(Declaration d, std::shared_ptr<std::promise<void>> promise);
  /// A new channel: declares every recorded declaration, then the ones that waited for it.
  /// Throws AmqpError; what is left waits for the next channel.
  void on_connected(AmqpChannel& channel);
  /// Fails the declarations still waiting (the session shuts down).
  void fail_pending(const Error& e);

 private:
  struct Pending {
    Declaration declaration;
    std::shared_ptr<std::promise<void>> promise;
  };
  static void apply(AmqpChannel& channel, const Declaration& d);
  void record(const Declaration& d);
  /// After the broker refused `pending`: waits for the next channel to declare it passively, or
  /// fails it.
  void on_refused(Pending pending, const AmqpError& e);

  BrokerSession& session_;
  std::vector<Declaration> recorded_;
  std::vector<Pending> pending_;
};

}  // namespace wonderland::messaging::detail
