// DeclaredTopology: declarations, their record, and their re-declaration after a reconnect.
#include "detail/declared_topology.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "detail/broker_session.hpp"

namespace wonderland::messaging::detail {
namespace {

bool same_entity(const Declaration& d, const Declaration& other) {
  if (d.index() != other.index())
    return false;
  if (const auto* e = std::get_if<ExchangeSpec>(&d))
    return std::get<ExchangeSpec>(other).name == e->name;
  if (const auto* q = std::get_if<QueueSpec>(&d))
    return std::get<QueueSpec>(other).name == q->name;
  const auto& b = std::get<BindingSpec>(d);
  const auto& o = std::get<BindingSpec>(other);
  return b.queue == o.queue && b.exchange == o.exchange && b.routing_key == o.routing_key;
}

/// A queue declaration the broker refused because the queue exists with other arguments: returns
/// the passive declaration to use instead (and warns), or nullopt when the spec does not accept
/// existing arguments.
std::optional<QueueSpec> accept_existing(const Declaration& d, const AmqpError& e) {
  const auto* spec = std::get_if<QueueSpec>(&d);
  constexpr int kPreconditionFailed = 406;
  if (spec == nullptr || !spec->accept_existing_arguments || spec->passive ||
      e.reply_code() != kPreconditionFailed) {
    return std::nullopt;
  }
  std::string limits;
  if (spec->max_length)
    limits += " x-max-length=" + std::to_string(*spec->max_length);
  if (spec->reject_publish_when_full)
    limits += " x-overflow=reject-publish";
  if (spec->dead_letter_exchange) {
    limits += " x-dead-letter-exchange=" + spec->dead_letter_exchange->str();
  } else {
    limits += " (no dead-letter exchange)";
  }
  spdlog::warn(
      "queue '{}' already exists with other arguments than this version declares ({}); using it "
      "as it is, so these arguments are NOT in force:{}. To apply them, stop every consumer of "
      "the queue, delete it (rabbitmqctl delete_queue {}; the messages in it are lost) and "
      "start again, or start the broker with an empty data directory",
      spec->name.str(), e.what(), limits, spec->name.str());
  QueueSpec passive = *spec;
  passive.passive = true;
  return passive;
}

}  // namespace

DeclaredTopology::DeclaredTopology(BrokerSession& session) : session_(session) {}

void DeclaredTopology::apply(AmqpChannel& channel, const Declaration& d) {
  std::visit(
      [&channel](const auto& spec) {
        using T = std::decay_t<decltype(spec)>;
        if constexpr (std::is_same_v<T, ExchangeSpec>) {
          channel.declare_exchange(spec);
        } else if constexpr (std::is_same_v<T, QueueSpec>) {
          channel.declare_queue(spec);
        } else {
          channel.bind(spec);
        }
      },
      d);
}

void DeclaredTopology::record(const Declaration& d) {
  auto it = std::find_if(recorded_.begin(), recorded_.end(),
                         [&d](const Declaration& other) { return same_entity(d, other); });
  if (it != recorded_.end()) {
    *it = d;
  } else {
    recorded_.push_back(d);
  }
}

void DeclaredTopology::on_refused(Pending pending, const AmqpError& e) {
  if (auto passive = accept_existing(pending.declaration, e)) {
    // The refusal closed the channel: declare it passively on the next connection.
    pending_.push_back({Declaration(std::move(*passive)), std::move(pending.promise)});
  } else {
    pending.promise->set_exception(
        std::make_exception_ptr(ErrorException(Error::of(codes::kFailedPrecondition, e.what()))));
  }
}

void DeclaredTopology::declare(Declaration d, std::shared_ptr<std::promise<void>> promise) {
  AmqpChannel* channel = session_.channel();
  if (channel == nullptr) {
    pending_.push_back({std::move(d), std::move(promise)});
    return;
  }
  try {
    apply(*channel, d);
    record(d);
    promise->set_value();
  } catch (const AmqpError& e) {
    if (e.refused_by_broker()) {
      on_refused({std::move(d), std::move(promise)}, e);
      session_.disconnect(e.what(), true);
    } else {
      pending_.push_back({std::move(d), std::move(promise)});
      session_.disconnect(e.what(), false);
    }
  }
}

void DeclaredTopology::on_connected(AmqpChannel& channel) {
  for (const auto& d : recorded_)
    apply(channel, d);
  auto pending = std::move(pending_);
  pending_.clear();
  for (std::size_t i = 0; i < pending.size(); ++i) {
    try {
      apply(channel, pending[i].declaration);
      record(pending[i].declaration);
      pending[i].promise->set_value();
    } catch (const AmqpError& e) {
      std::size_t rest = i;
      if (e.refused_by_broker()) {
        on_refused(pending[i], e);
        rest = i + 1;
      }
      for (std::size_t j = rest; j < pending.size(); ++j)
        pending_.push_back(pending[j]);
      throw;
    }
  }
}

void DeclaredTopology::fail_pending(const Error& e) {
  for (auto& d : pending_)
    d.promise->set_exception(std::make_exception_ptr(ErrorException(e)));
  pending_.clear();
}

}  // namespace wonderland::messaging::detail
