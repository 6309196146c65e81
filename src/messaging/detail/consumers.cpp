// Consumers: registration, starting on each channel, and dispatch of deliveries to handlers.
#include "detail/consumers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

#include "detail/broker_session.hpp"

namespace wonderland::messaging::detail {

Consumers::Consumers(BrokerSession& session) : session_(session), redelivery_(session) {}

std::uint64_t Consumers::add(ConsumerOptions options, Handler handler) {
  auto c = std::make_shared<State>();
  c->id = session_.next_id();
  c->options = std::move(options);
  c->handler = std::move(handler);
  if (c->options.concurrency > 0)
    c->pool = std::make_unique<WorkerPool>(c->options.concurrency);
  {
    std::lock_guard lock(mu_);
    consumers_[c->id] = c;
  }
  session_.post(std::function<void()>([this, c] {
    AmqpChannel* channel = session_.channel();
    // Not connected: on_connected starts it. Already started: the connection opened after the
    // registration above and on_connected started it first (a second basic.consume would leave
    // a consumer behind that nothing cancels).
    if (channel == nullptr || !c->tag.empty())
      return;
    start_or_disconnect(*channel, *c, false);
  }));
  return c->id;
}

void Consumers::remove(std::uint64_t id) {
  std::shared_ptr<State> c;
  {
    std::lock_guard lock(mu_);
    auto it = consumers_.find(id);
    if (it == consumers_.end())
      return;
    c = it->second;
    consumers_.erase(it);
  }
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  session_.post(std::function<void()>([this, c, promise] {
    AmqpChannel* channel = session_.channel();
    if (channel != nullptr && !c->tag.empty()) {
      by_tag_.erase(c->tag);
      try {
        channel->cancel(c->tag);
      } catch (const AmqpError& e) {
        session_.disconnect(e.what(), e.refused_by_broker());
      }
    }
    c->tag.clear();
    promise->set_value();
  }));
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    spdlog::warn("consumer of '{}' did not cancel within 10 s", c->options.queue.str());
  }
  // Handlers already queued run to completion; their acknowledgements still reach the channel.
  if (c->pool)
    c->pool->stop();
}

void Consumers::stop_all() {
  std::map<std::uint64_t, std::shared_ptr<State>> consumers;
  {
    std::lock_guard lock(mu_);
    consumers.swap(consumers_);
  }
  for (auto& [id, c] : consumers) {
    if (c->pool)
      c->pool->stop();
  }
}

std::shared_ptr<Consumers::State> Consumers::find(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = consumers_.find(id);
  return it != consumers_.end() ? it->second : nullptr;
}

void Consumers::start(AmqpChannel& channel, State& c) {
  const std::string& q = c.options.queue.str();
  channel.declare_exchange(ExchangeSpec{exchanges::kDeadLetter, ExchangeType::kDirect, true});
  if (c.options.keep_dead_letters) {
    QueueSpec dead;
    dead.name = c.options.dead_letters_in.value_or(dead_letter_queue_for(c.options.queue));
    dead.dead_letter_exchange.reset();
    channel.declare_queue(dead);
    channel.bind(BindingSpec{dead.name, exchanges::kDeadLetter, q});
  }
  channel.qos(c.options.prefetch);
  c.tag = channel.consume(q, false);
  if (auto shared = find(c.id))
    by_tag_[c.tag] = shared;
}

bool Consumers::start_or_disconnect(AmqpChannel& channel, State& c, bool restart) {
  try {
    start(channel, c);
    return true;
  } catch (const AmqpError& e) {
    spdlog::error("cannot consume from queue '{}'{}: {}", c.options.queue.str(),
                  restart ? " again" : "", e.what());
    session_.disconnect(e.what(), !restart && e.refused_by_broker());
    return false;
  }
}

void Consumers::on_connected(AmqpChannel& channel) {
  std::vector<std::shared_ptr<State>> consumers;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, c] : consumers_)
      consumers.push_back(c);
  }
  for (auto& c : consumers)
    start(channel, *c);
}

void Consumers::forget_queue(const QueueName& queue) {
  for (auto it = by_tag_.begin(); it != by_tag_.end();) {
    if (it->second->options.queue.str() == queue.str()) {
      it->second->tag.clear();
      it = by_tag_.erase(it);
    } else {
      ++it;
    }
  }
}

void Consumers::on_disconnect() {
  by_tag_.clear();
  std::lock_guard lock(mu_);
  for (auto& [id, c] : consumers_)
    c->tag.clear();
}

void Consumers::on_cancelled(const CancelEvent& ev) {
  auto it = by_tag_.find(ev.consumer_tag);
  if (it == by_tag_.end())
    return;
  std::shared_ptr<State> c = it->second;
  c->tag.clear();
  by_tag_.erase(it);
  ++c->cancelled;
  // Started again after a pause that grows with each cancel in a row (a queue that was deleted
  // would otherwise be asked for every few milliseconds); a delivery resets it.
  auto pause =
      std::chrono::milliseconds(std::min<long long>(5000, 250LL << std::min(c->cancelled - 1, 5)));
  spdlog::warn("the broker cancelled the consumer of '{}'; consuming again in {} ms",
               c->options.queue.str(), pause.count());
  std::uint64_t generation = session_.generation();
  session_.timers().schedule(Clock::now() + pause, [this, c, generation] {
    AmqpChannel* channel = session_.channel();
    // A new connection started it already; a removed consumer stays stopped.
    if (channel == nullptr || generation != session_.generation() || !c->tag.empty() ||
        find(c->id) == nullptr)
      return;
    if (start_or_disconnect(*channel, *c, true))
      spdlog::info("consuming from queue '{}' again", c->options.queue.str());
  });
}

void Consumers::on_deliver(DeliverEvent ev) {
  auto arrived = Clock::now();
  ++session_.counters().delivered;
  auto it = by_tag_.find(ev.consumer_tag);
  if (it == by_tag_.end()) {
    session_.channel()->reject(ev.delivery_tag, true);  // consumer gone: give it back to the queue
    return;
  }
  std::shared_ptr<State> c = it->second;
  c->cancelled = 0;
  ConsumerJob job;
  job.generation = session_.generation();
  job.attempt = static_cast<int>(ev.properties.int_header(kAttemptHeader).value_or(1));
  if (!ev.properties.expiration.empty()) {
    try {
      job.expires_at = arrived + std::chrono::milliseconds(std::stoll(ev.properties.expiration));
    } catch (const std::exception&) {
      // Not a number: the broker would have refused it; ignore.
    }
  }
  job.delivery = std::move(ev);
  if (!prepare(*c, job))
    return;
  if (c->pool && !(c->options.on_io_thread && c->options.on_io_thread(job.envelope))) {
    c->pool->post([this, c, job = std::move(job)]() mutable { handle(*c, std::move(job)); });
  } else {
    handle(*c, std::move(job));
  }
}

bool Consumers::prepare(State& c, ConsumerJob& job) {
  const std::string& queue = c.options.queue.str();
  if (job.delivery.redelivered) {
    // The last consumer died or lost its connection holding this message: that counts as an
    // attempt. Record the count on the message itself, so that a message that crashes its
    // consumer every time cannot circle forever.
    int next = job.attempt + 1;
    bool dead = next > c.options.max_attempts;
    std::string reason = "redelivered after " + std::to_string(job.attempt) +
                         " attempt(s) without acknowledgement (consumer died or disconnected)";
    redelivery_.republish(std::move(job), queue, next, reason, dead);
    return false;
  }
  try {
    job.envelope = Envelope::parse(job.delivery.body);
  } catch (const std::exception& e) {
    redelivery_.republish(std::move(job), queue, 1, std::string("malformed message: ") + e.what(),
                          true);
    return false;
  }
  return true;
}

HandlerOutcome Consumers::run_handler(State& c, const ConsumerJob& job,
                                      std::vector<PendingPublish>& after_ack) {
  DeliveryInfo info;
  // Serialised here, on the handler's thread; sent by the I/O thread after the acknowledgement.
  info.publish_after_ack = [this, &after_ack](Outgoing message) {
    message.unconfirmed = true;
    after_ack.push_back(session_.publisher().prepare(std::move(message), [](const Status&) {}));
  };
  info.queue = c.options.queue;
  info.exchange = job.delivery.exchange;
  info.routing_key = job.delivery.routing_key;
  info.reply_to = job.delivery.properties.reply_to;
  info.rpc_correlation_id = job.delivery.properties.correlation_id;
  info.attempt = job.attempt;
  info.redelivered = job.delivery.redelivered;
  HandlerOutcome outcome;
  try {
    if (job.expires_at && Clock::now() >= *job.expires_at) {
      // Its sender stopped waiting while it queued here behind other work: nobody wants the
      // result. Acknowledged without running the handler.
      spdlog::debug("message {} of type {} on '{}' expired before a handler was free; dropped",
                    job.envelope.message_id, job.envelope.type, c.options.queue.str());
    } else {
      c.handler(job.envelope, info);
    }
  } catch (const PoisonMessage& e) {
    outcome.failure = e.what();
    outcome.poison = true;
  } catch (const std::exception& e) {
    outcome.failure = e.what();
    if (outcome.failure.empty())
      outcome.failure = "handler failed";
  } catch (...) {
    outcome.failure = "handler threw a non-standard exception";
  }
  return outcome;
}

void Consumers::handle(State& c, ConsumerJob job) {
  std::vector<PendingPublish> after_ack;
  HandlerOutcome outcome = run_handler(c, job, after_ack);
  // Completion goes through the I/O queue, behind anything the handler published; what it left
  // for after the acknowledgement (an RPC reply) follows the acknowledgement on the wire.
  session_.post(std::function<void()>(
      [this, keep = find(c.id), job = std::move(job), outcome = std::move(outcome),
       after_ack = std::move(after_ack), queue = c.options.queue.str(),
       max = c.options.max_attempts]() mutable {
        // On another connection than the delivery's, the delivery is not acknowledged: the
        // broker delivers it again, and the reply goes out then. Not held for a connection to
        // come either: replaying replies to a caller whose node died would close every new
        // connection in turn (see DeliveryInfo::publish_after_ack).
        const bool same_connection =
            job.generation == session_.generation() && session_.channel() != nullptr;
        redelivery_.finish(std::move(job), outcome, queue, max);
        if (same_connection) {
          for (PendingPublish& p : after_ack)
            session_.publisher().send(std::move(p));
        }
      }));
}

}  // namespace wonderland::messaging::detail
