// Publisher: publish tracking and publisher confirms for a broker session.
#include "detail/publisher.hpp"

#include <algorithm>

#include "detail/broker_session.hpp"

namespace wonderland::messaging::detail {
namespace {

// RabbitMQ 3.10: a channel opened on a surviving node while the cluster is still electing a new
// leader for a quorum queue (right after the old leader's node died) may keep the dead leader and
// nack every publish to that queue for as long as the channel lives; a new channel does not.
// So in this window after a reconnect, a nack reopens the connection (not more often than every
// kRecycleInterval) and the nacked publish is sent again on the new one (or fails at its
// deadline).
constexpr auto kFailoverWindow = std::chrono::seconds(30);
constexpr auto kRecycleInterval = std::chrono::seconds(2);

}  // namespace

Publisher::Publisher(BrokerSession& session) : session_(session) {}

PendingPublish Publisher::prepare(Outgoing m, PublishCallback done) const {
  const std::string& service = session_.options().service;
  PendingPublish p;
  p.id = session_.next_id();
  p.exchange = m.exchange.str();
  p.routing_key = std::move(m.routing_key);
  p.properties.message_id = m.envelope.message_id;
  p.properties.type = m.envelope.type;
  p.properties.app_id = m.envelope.source.empty() ? service : m.envelope.source;
  p.properties.persistent = m.delivery == Delivery::kPersistent;
  p.properties.reply_to = std::move(m.reply_to);
  p.properties.correlation_id = std::move(m.rpc_correlation_id);
  if (m.expiration) {
    p.properties.expiration = std::to_string(std::max<std::int64_t>(0, m.expiration->count()));
  }
  if (m.envelope.source.empty())
    m.envelope.source = service;
  p.body = m.raw_body ? std::move(*m.raw_body) : m.envelope.serialize();
  p.mandatory = m.mandatory;
  p.confirmed = !m.unconfirmed;
  p.deadline = Clock::now() + m.timeout;
  p.done = std::move(done);
  return p;
}

void Publisher::fail(PendingPublish& p, const Error& e) {
  ++session_.counters().publish_failures;
  if (p.done) {
    auto done = std::move(p.done);
    p.done = nullptr;
    done(e);
  }
}

void Publisher::expire(std::map<std::uint64_t, PendingPublish>& publishes, std::uint64_t key,
                       const char* why) {
  auto it = publishes.find(key);
  if (it == publishes.end())
    return;
  fail(it->second, Error::of(codes::kDeadlineExceeded, why));
  publishes.erase(it);
}

void Publisher::send(PendingPublish p) {
  if (Clock::now() >= p.deadline) {
    fail(p, Error::of(codes::kDeadlineExceeded, "broker did not accept the publish in time"));
    return;
  }
  AmqpChannel* channel = session_.channel();
  if (channel == nullptr)
    return hold(std::move(p));
  try {
    channel->publish(p.exchange, p.routing_key, p.mandatory, p.properties, p.body, p.confirmed);
  } catch (const AmqpError& e) {
    bool refused = e.refused_by_broker();
    if (refused) {
      fail(p, Error::of(codes::kFailedPrecondition, e.what()));
    } else {
      hold(std::move(p));
    }
    session_.disconnect(e.what(), refused);
    return;
  }
  ++session_.counters().published;
  if (p.sent)
    p.sent();
  if (!p.confirmed || !session_.options().publisher_confirms) {
    ++(p.confirmed ? session_.counters().confirmed : session_.counters().unconfirmed);
    if (p.done)
      p.done(ok_status());
    return;
  }
  await_confirm(std::move(p));
}

void Publisher::hold(PendingPublish p) {
  auto id = p.id;
  auto deadline = p.deadline;
  waiting_.emplace(id, std::move(p));
  session_.timers().schedule(deadline, [this, id] {
    expire(waiting_, id, "broker unreachable until the publish deadline");
  });
}

void Publisher::await_confirm(PendingPublish p) {
  std::uint64_t seq = ++sequence_;
  p.sequence = seq;
  if (p.mandatory)
    mandatory_by_message_id_[p.properties.message_id] = seq;
  auto deadline = p.deadline;
  auto generation = session_.generation();
  unconfirmed_.emplace(seq, std::move(p));
  session_.timers().schedule(
      deadline,
      [this, seq, generation] {
        if (generation != session_.generation())
          return;
        expire(unconfirmed_, seq, "broker did not confirm the publish in time");
      },
      [this, seq, generation] {
        return generation == session_.generation() && unconfirmed_.count(seq) != 0;
      });
}

void Publisher::complete(PendingPublish& p, bool ack) {
  if (p.mandatory)
    mandatory_by_message_id_.erase(p.properties.message_id);
  if (!ack && p.resend_on_reconnect && recycle_after_nack()) {
    p.returned = false;
    hold(std::move(p));
    return;
  }
  if (!ack) {
    // A queue declared with `x-overflow: reject-publish` that is full refuses new messages, and
    // so does a quorum queue without a leader (a node of the cluster died; it elects a new one).
    bool quorum = session_.options().queue_type == QueueType::kQuorum;
    std::string why = p.exchange.empty()
                          ? "the " + p.routing_key + " queue is full" +
                                (quorum ? " or electing a leader" : "") + "; try again"
                          : "the broker refused the message for exchange '" + p.exchange +
                                "' (a queue it routes to is full" +
                                (quorum ? " or electing a leader" : "") + "); try again";
    fail(p, Error::of(codes::kUnavailable, why));
  } else if (p.returned) {
    fail(p, Error::of(codes::kUnavailable, "no queue is bound for exchange '" + p.exchange +
                                               "' with routing key '" + p.routing_key + "'"));
  } else {
    ++session_.counters().confirmed;
    if (p.done)
      p.done(ok_status());
  }
}

void Publisher::on_confirm(const ConfirmEvent& ev) {
  if (ev.multiple) {
    auto end = unconfirmed_.upper_bound(ev.delivery_tag);
    for (auto it = unconfirmed_.begin(); it != end; ++it)
      complete(it->second, ev.ack);
    unconfirmed_.erase(unconfirmed_.begin(), end);
  } else {
    auto it = unconfirmed_.find(ev.delivery_tag);
    if (it == unconfirmed_.end())
      return;
    complete(it->second, ev.ack);
    unconfirmed_.erase(it);
  }
}

bool Publisher::recycle_after_nack() {
  if (session_.options().queue_type != QueueType::kQuorum || !had_connection_ ||
      Clock::now() - failover_at_ > kFailoverWindow) {
    return false;
  }
  auto generation = session_.generation();
  if (recycled_generation_ == generation)
    return true;  // this connection is to be reopened already: the publish waits for the next
  recycled_generation_ = generation;
  recycled_at_ = std::max(Clock::now(), recycled_at_ + kRecycleInterval);
  session_.timers().schedule(recycled_at_, [this, generation] {
    if (generation == session_.generation() && session_.channel() != nullptr) {
      session_.disconnect("a quorum queue refused publishes after a failover; reopening", true);
    }
  });
  return true;
}

void Publisher::on_return(const ReturnEvent& ev) {
  auto it = mandatory_by_message_id_.find(ev.properties.message_id);
  if (it == mandatory_by_message_id_.end())
    return;
  auto p = unconfirmed_.find(it->second);
  if (p != unconfirmed_.end())
    p->second.returned = true;
}

void Publisher::on_connected() {
  if (had_connection_)
    failover_at_ = Clock::now();
  had_connection_ = true;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [id, p] : waiting)
    send(std::move(p));
}

void Publisher::on_disconnect(const std::string& reason) {
  mandatory_by_message_id_.clear();
  auto unconfirmed = std::move(unconfirmed_);
  unconfirmed_.clear();
  for (auto& [seq, p] : unconfirmed) {
    if (p.resend_on_reconnect) {
      // Sent again on the next connection (to whichever node it reaches), or failed at its
      // deadline if none comes in time: never dropped.
      p.returned = false;
      hold(std::move(p));
    } else {
      fail(p, Error::of(codes::kUnavailable,
                        "connection to the broker lost before the confirm: " + reason));
    }
  }
}

void Publisher::fail_all(const Error& e) {
  for (auto& [id, p] : waiting_)
    fail(p, e);
  waiting_.clear();
  for (auto& [seq, p] : unconfirmed_)
    fail(p, e);
  unconfirmed_.clear();
}

}  // namespace wonderland::messaging::detail
