// Redelivery: bounded retries and dead letters for consumed messages.
#include "detail/redelivery.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "detail/broker_session.hpp"

namespace wonderland::messaging::detail {
namespace {

constexpr const char* kReasonHeader = "x-wonderland-reason";
constexpr const char* kQueueHeader = "x-wonderland-queue";

std::chrono::milliseconds retry_backoff(int attempt) {
  // 100 ms, 200 ms, 400 ms ... capped at 5 s: a failing handler does not spin.
  auto ms = 100LL << std::min(attempt - 1, 6);
  return std::chrono::milliseconds(std::min<long long>(ms, 5000));
}

void set_attempt(Properties& properties, int attempt) {
  auto& ints = properties.int_headers;
  ints.erase(std::remove_if(ints.begin(), ints.end(),
                            [](const auto& h) { return h.first == kAttemptHeader; }),
             ints.end());
  ints.emplace_back(kAttemptHeader, attempt);
}

}  // namespace

Redelivery::Redelivery(BrokerSession& session) : session_(session) {}

void Redelivery::finish(ConsumerJob job, const HandlerOutcome& outcome, const std::string& queue,
                        int max_attempts) {
  const std::string& failure = outcome.failure;
  if (failure.empty()) {
    ack(job.generation, job.delivery.delivery_tag);
    return;
  }
  if (outcome.poison) {
    auto attempt = job.attempt;
    republish(std::move(job), queue, attempt, "rejected by the handler: " + failure, true);
    return;
  }
  if (job.attempt >= max_attempts) {
    auto reason = "failed " + std::to_string(job.attempt) + " attempt(s); last error: " + failure;
    auto attempt = job.attempt;
    republish(std::move(job), queue, attempt, reason, true);
    return;
  }
  spdlog::warn("message {} on '{}' failed attempt {} ({}); retrying", job.envelope.message_id,
               queue, job.attempt, failure);
  retry_later(std::move(job), queue, failure);
}

void Redelivery::retry_later(ConsumerJob job, const std::string& queue,
                             const std::string& failure) {
  auto at = Clock::now() + retry_backoff(job.attempt);
  auto shared_job = std::make_shared<ConsumerJob>(std::move(job));
  session_.timers().schedule(at, [this, shared_job, queue, failure] {
    int next = shared_job->attempt + 1;
    republish(std::move(*shared_job), queue, next, failure, false);
  });
}

void Redelivery::republish(ConsumerJob job, const std::string& queue, int attempt,
                           const std::string& reason, bool dead_letter) {
  if (job.generation != session_.generation() || session_.channel() == nullptr) {
    return;  // the broker redelivers it anyway
  }
  PendingPublish p;
  p.id = session_.next_id();
  p.exchange = dead_letter ? exchanges::kDeadLetter.str() : std::string();
  p.routing_key = queue;
  p.properties = job.delivery.properties;
  set_attempt(p.properties, attempt);
  if (dead_letter) {
    p.properties.expiration.clear();  // a dead letter waits for an operator
    p.properties.string_headers.emplace_back(kReasonHeader, reason);
    p.properties.string_headers.emplace_back(kQueueHeader, queue);
    ++session_.counters().dead_lettered;
    const std::string& id = job.delivery.properties.message_id;
    spdlog::error("dead-lettered message {} from queue '{}' after {} attempt(s): {}",
                  id.empty() ? std::string("(no id)") : id, queue, attempt, reason);
  }
  p.body = std::move(job.delivery.body);
  p.deadline = Clock::now() + std::chrono::seconds(30);
  p.resend_on_reconnect = false;
  auto generation = job.generation;
  auto tag = job.delivery.delivery_tag;
  p.done = [this, generation, tag, dead_letter](const Status& s) {
    if (s.ok()) {
      ack(generation, tag);
    } else {
      // Could not move it: let the broker keep it (dead letters fall back to the queue's DLX).
      reject(generation, tag, !dead_letter);
    }
  };
  session_.publisher().send(std::move(p));
}

void Redelivery::ack(std::uint64_t generation, std::uint64_t delivery_tag) {
  settle(generation, [delivery_tag](AmqpChannel& channel) { channel.ack(delivery_tag); });
}

void Redelivery::reject(std::uint64_t generation, std::uint64_t delivery_tag, bool requeue) {
  settle(generation,
         [delivery_tag, requeue](AmqpChannel& channel) { channel.reject(delivery_tag, requeue); });
}

void Redelivery::settle(std::uint64_t generation, const std::function<void(AmqpChannel&)>& op) {
  AmqpChannel* channel = session_.channel();
  if (generation != session_.generation() || channel == nullptr) {
    return;  // the delivery died with its connection
  }
  try {
    op(*channel);
  } catch (const AmqpError& e) {
    session_.disconnect(e.what(), false);
  }
}

}  // namespace wonderland::messaging::detail
