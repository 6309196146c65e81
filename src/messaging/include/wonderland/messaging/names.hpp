// Strong types for broker names, so that a queue is never passed where an exchange is meant.
#pragma once

#include <string>
#include <utility>

namespace wonderland::messaging {

template <class Tag>
class Name {
 public:
  Name() = default;
  explicit Name(std::string value) : value_(std::move(value)) {}
  const std::string& str() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }
  friend bool operator==(const Name&, const Name&) = default;
  friend auto operator<=>(const Name&, const Name&) = default;

 private:
  std::string value_;
};

using QueueName = Name<struct QueueTag>;
using ExchangeName = Name<struct ExchangeTag>;

enum class ExchangeType { kDirect, kTopic, kFanout, kHeaders };

/// Whether the broker writes a message to disk. Commands and events are persistent; RPC
/// replies and logs may be transient.
enum class Delivery { kTransient, kPersistent };

/// The exchanges every Wonderland process shares.
namespace exchanges {
/// Topic exchange for domain events, routing key = event type (e.g. `order.confirmed`).
inline const ExchangeName kEvents{"wonderland.events"};
/// Direct exchange for logs, routing key = severity (debug, info, warning, error).
inline const ExchangeName kLogs{"wonderland.logs"};
/// Topic exchange for the mediator's workflow events, routing key = `workflow.<event>`.
inline const ExchangeName kWorkflow{"wonderland.workflow"};
/// Direct exchange that receives dead letters; routing key = the original queue.
inline const ExchangeName kDeadLetter{"wonderland.dlx"};
/// The default exchange: routing key = queue name. Used for commands (RPC requests).
inline const ExchangeName kDefault{""};
}  // namespace exchanges

}  // namespace wonderland::messaging
