// Forwarding log records over a `messaging::Connection`.
//
//   messaging::Connection conn(messaging::ConnectionOptions::from_env("orders"));
//   log::AmqpLogPublisher::declare(conn);  // once, if nobody else declares wonderland.logs
//   auto forwarding = log::attach_broker(std::make_shared<log::AmqpLogPublisher>(conn));
//
// Header-only on purpose: it is the only part of logging that touches the messaging library,
// so only processes that include it link `wonderland::messaging`.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "wonderland/log/publisher.hpp"
#include "wonderland/log/record.hpp"
#include "wonderland/messaging/connection.hpp"
#include "wonderland/messaging/names.hpp"
#include "wonderland/messaging/topology.hpp"

namespace wonderland::log {

/// Publishes log records to `wonderland.logs` (routing key = severity), transiently and not
/// mandatory: with no queue bound, records are silently discarded by the broker.
class AmqpLogPublisher final : public LogPublisher {
 public:
  /// `connection` must outlive this publisher's attachment (see log::attach_broker).
  /// `timeout` bounds each publish, including time spent disconnected. It is longer than the
  /// forwarder's longest pause, so that while the broker is unreachable a probe is always waiting
  /// in the connection (sent the moment it reconnects) and a record uses up one of its attempts
  /// only every `timeout`.
  explicit AmqpLogPublisher(messaging::Connection& connection,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : connection_(connection), timeout_(timeout) {}

  /// Declares the logs exchange (direct, durable). Blocks; throws ErrorException when the
  /// broker refuses or does not answer within `timeout`.
  static void declare(messaging::Connection& connection,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    connection.declare(
        messaging::ExchangeSpec{messaging::exchanges::kLogs, messaging::ExchangeType::kDirect},
        timeout);
  }

  void publish(messaging::Envelope envelope, Severity severity, Done done) override {
    messaging::Outgoing out;
    out.exchange = messaging::exchanges::kLogs;
    out.routing_key = std::string(to_string(severity));
    out.envelope = std::move(envelope);
    out.delivery = messaging::Delivery::kTransient;
    out.mandatory = false;
    out.timeout = timeout_;
    auto shared_done = std::make_shared<Done>(std::move(done));
    try {
      connection_.publish(std::move(out),
                          [shared_done](const Status& status) { (*shared_done)(status.ok()); });
    } catch (...) {
      // The connection refused the publish outright (e.g. while being destroyed).
      (*shared_done)(false);
    }
  }

 private:
  messaging::Connection& connection_;
  std::chrono::milliseconds timeout_;
};

}  // namespace wonderland::log
