// RpcCalls: RPC requests, their correlation with replies, and their deadlines.
#include "detail/rpc_calls.hpp"

#include <array>
#include <vector>

#include "detail/broker_session.hpp"

namespace wonderland::messaging::detail {
namespace {

constexpr const char* kDirectReplyTo = "amq.rabbitmq.reply-to";

}  // namespace

RpcCalls::RpcCalls(BrokerSession& session) : session_(session) {}

void RpcCalls::call(RpcRequest request, RpcCallback done) {
  std::uint64_t id = session_.next_id();
  Outgoing m;
  m.exchange = exchanges::kDefault;
  m.routing_key = request.queue.str();
  m.envelope = std::move(request.envelope);
  m.delivery = request.delivery;
  m.timeout = request.timeout;
  // A request still queued when its caller gives up is dropped by the broker, not worked on.
  m.expiration = request.timeout;
  m.reply_to = kDirectReplyTo;
  m.rpc_correlation_id = std::to_string(id);
  auto deadline = Clock::now() + request.timeout;
  auto timeout_ms = request.timeout.count();
  // The caller's callback, until the I/O thread registers the call. A call that never gets
  // there, made as the connection shuts down (its operations are then refused or dropped), is
  // answered by its failed publish instead: every call is answered, and once. Both run on the
  // I/O thread, the registration first, unless the session refuses them both.
  auto unregistered = std::make_shared<RpcCallback>(std::move(done));
  BrokerSession::LocalOp registration{[this, id, deadline, timeout_ms, unregistered] {
    calls_.emplace(id, Pending{std::move(*unregistered), 0});
    *unregistered = nullptr;
    session_.timers().schedule(
        deadline,
        [this, id, timeout_ms] {
          complete(id, Error::of(codes::kDeadlineExceeded,
                                 "no reply within " + std::to_string(timeout_ms) + " ms"));
        },
        [this, id] { return calls_.count(id) != 0; });
  }};
  // The publish completes with the broker's confirm (or at once without confirms); only a
  // failure matters here, since the reply completes the call.
  PendingPublish p =
      session_.publisher().prepare(std::move(m), [this, id, unregistered](const Status& s) {
        if (s.ok())
          return;
        if (*unregistered) {
          RpcCallback answer = std::move(*unregistered);
          *unregistered = nullptr;
          return answer(s.error());
        }
        complete(id, s.error());
      });
  // The reply address dies with the connection: the request is not sent again on the next one.
  p.resend_on_reconnect = false;
  p.sent = [this, id] {
    auto it = calls_.find(id);
    if (it != calls_.end())
      it->second.sent_generation = session_.generation();
  };
  // The call is registered, then its request published: both in one hand-over.
  std::array<BrokerSession::Op, 2> ops{std::move(registration), std::move(p)};
  session_.post(ops);
}

void RpcCalls::on_connected(AmqpChannel& channel) {
  reply_tag_ = channel.consume(kDirectReplyTo, true);
}

void RpcCalls::on_reply(const DeliverEvent& ev) {
  std::uint64_t id = 0;
  try {
    id = std::stoull(ev.properties.correlation_id);
  } catch (const std::exception&) {
    return;  // not one of ours
  }
  if (calls_.find(id) == calls_.end())
    return;  // timed out already
  try {
    Envelope reply = Envelope::parse(ev.body);
    if (reply.error) {
      Error e = *reply.error;
      complete(id, std::move(e));
    } else {
      complete(id, std::move(reply));
    }
  } catch (const std::exception& e) {
    complete(id, Error::of(codes::kInternal, std::string("malformed reply: ") + e.what()));
  }
}

void RpcCalls::complete(std::uint64_t id, Result<Envelope> result) {
  auto it = calls_.find(id);
  if (it == calls_.end())
    return;
  auto done = std::move(it->second.done);
  calls_.erase(it);
  if (done)
    done(std::move(result));
}

void RpcCalls::on_disconnect(const std::string& reason) {
  reply_tag_.clear();
  std::vector<std::uint64_t> lost;
  for (auto& [id, call] : calls_) {
    if (call.sent_generation == session_.generation())
      lost.push_back(id);
  }
  for (auto id : lost) {
    complete(id, Error::of(codes::kUnavailable, "connection to the broker lost: " + reason));
  }
}

void RpcCalls::fail_all(const Error& e) {
  std::vector<std::uint64_t> ids;
  for (auto& [id, call] : calls_)
    ids.push_back(id);
  for (auto id : ids)
    complete(id, e);
}

}  // namespace wonderland::messaging::detail
