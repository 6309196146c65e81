// Declarations of exchanges, queues and bindings. A Connection records every declaration and
// declares it again after each reconnect.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/messaging/names.hpp"

namespace wonderland::messaging {

struct ExchangeSpec {
  ExchangeName name;
  ExchangeType type = ExchangeType::kTopic;
  bool durable = true;
};

struct QueueSpec {
  QueueName name;
  bool durable = true;
  bool exclusive = false;
  bool auto_delete = false;
  /// Messages rejected by consumers are routed here (`x-dead-letter-exchange`). Consumers of
  /// this library publish their dead letters there themselves, with a reason.
  std::optional<ExchangeName> dead_letter_exchange = exchanges::kDeadLetter;
  std::optional<std::int64_t> max_length;  ///< `x-max-length`
  bool reject_publish_when_full = false;   ///< `x-overflow: reject-publish` (publisher nacks)
  std::optional<std::chrono::milliseconds> message_ttl;
  std::optional<std::chrono::milliseconds> expires;  ///< delete when unused this long
  /// When the queue already exists with other arguments (declared by an older version, with
  /// other limits), the broker refuses the declaration (406 PRECONDITION_FAILED). Set, the queue
  /// is then used as it is (a passive declaration) and a warning names the arguments that are
  /// not in force and how to apply them; unset, the declaration fails with failed_precondition.
  bool accept_existing_arguments = false;
  /// Only check that the queue exists, whatever its arguments (`passive`); a missing queue is an
  /// error.
  bool passive = false;
};

struct BindingSpec {
  QueueName queue;
  ExchangeName exchange;
  std::string routing_key;
};

/// The dead-letter exchange and, for a queue `q`, the queue `q.dead` bound to it with key `q`.
/// Declared automatically by `Connection::consume` for the queue it consumes.
QueueName dead_letter_queue_for(const QueueName& queue);

}  // namespace wonderland::messaging
