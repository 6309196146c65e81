// The one message envelope every Wonderland service speaks (docs/messages.md).
//
// On the wire a message body is a JSON document:
//   {"message_id", "type", "correlation_id", "causation_id", "source", "timestamp",
//    "traceparent", "idempotency_key", "body": {...}, "error": {code, message, retryable}?}
// The AMQP properties repeat message_id, type and app_id (= source) for broker-side tooling,
// and carry the transport-only fields (reply_to, the RPC correlation, delivery mode).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "wonderland/common/error.hpp"

namespace wonderland::messaging {

struct Envelope {
  std::string message_id;       ///< UUID of this message.
  std::string type;             ///< e.g. `inventory.reserve`, `order.confirmed`.
  std::string correlation_id;   ///< The business flow: workflow or order id.
  std::string causation_id;     ///< message_id of the message that caused this one.
  std::string source;           ///< Service that sent it.
  std::string timestamp;        ///< UTC ISO-8601 time of sending.
  std::string traceparent;      ///< W3C trace context.
  std::string idempotency_key;  ///< Stable across retries and restarts of the same command.
  nlohmann::json body = nlohmann::json::object();
  std::optional<Error> error;  ///< Set on an error reply; then `body` is empty.

  /// A new message of `type` with a fresh message_id, the current timestamp and a new trace.
  static Envelope make(std::string type, nlohmann::json body, std::string source = {});
  /// A message caused by `cause`: same correlation and trace, causation = cause.message_id.
  static Envelope caused_by(const Envelope& cause, std::string type, nlohmann::json body,
                            std::string source = {});

  std::string serialize() const;
  /// The wire text with `body_json` (compact JSON text of an object, written by the caller) as
  /// the body instead of `body`: for producers that render their body as text on a hot path.
  std::string serialize_with_body(std::string_view body_json) const;
  /// Parses a wire body; throws std::invalid_argument with a reason when it is not an envelope
  /// or exceeds JsonLimits::message() (depth 128, strings of 16 MiB, 2,000,000 values, 64 MiB):
  /// "envelope: nesting depth exceeds the limit of 128 (at byte 180)".
  static Envelope parse(std::string_view wire);

 private:
  void append_header(std::string& out) const;
};

/// A new W3C traceparent (`00-<32 hex>-<16 hex>-01`).
std::string new_traceparent();

}  // namespace wonderland::messaging
