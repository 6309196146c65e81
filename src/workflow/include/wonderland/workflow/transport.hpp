// How the engine talks to the outside: commands to services and published events.
//
// The engine depends only on this interface; the RabbitMQ adapter (RPC client + publisher) and
// the in-process transport used by tests and benchmarks implement it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "wonderland/common/error.hpp"

namespace wonderland::workflow {

/// A command to a service. Every attempt of one step carries the same idempotency key, across
/// retries and engine restarts, so the service applies its effect at most once:
///   `<workflow_id>:<step_path>`               the step
///   `<workflow_id>:<step_path>:compensate`    its compensation
/// with `#<n>` appended (n >= 1) when a workflow retry re-runs a step whose effect was undone or
/// that got a final (non-retryable) answer under the old key.
struct Command {
  std::string workflow_id;
  std::string step_path;
  int attempt = 1;
  std::string service;
  std::string action;
  nlohmann::json input;
  std::string idempotency_key;
  std::chrono::milliseconds timeout{5000};
  bool compensation = false;  ///< Whether this undoes the step rather than doing it.
};

/// An event a workflow emits (a publish step). The key is stable like a command's, so
/// subscribers can drop the duplicates that recovery may produce.
struct Publication {
  std::string workflow_id;
  std::string step_path;
  int attempt = 1;
  std::string topic;
  nlohmann::json payload;
  std::string idempotency_key;
};

using ReplyCallback = std::function<void(Result<nlohmann::json>)>;
using PublishCallback = std::function<void(Status)>;

class Transport {
 public:
  virtual ~Transport() = default;
  /// Sends a command without blocking. `done` runs at most once, on any thread (possibly inside
  /// send()), with the reply body or an error value; retryable errors (`unavailable`,
  /// `deadline_exceeded`...) may be retried by the engine. The engine enforces `timeout` with its
  /// own timer, so a transport that never answers only delays the step.
  virtual void send(Command command, ReplyCallback done) = 0;
  /// Publishes an event without blocking; `done` runs at most once, on any thread, when the
  /// event is accepted (e.g. confirmed by the broker) or failed.
  virtual void publish(Publication publication, PublishCallback done) = 0;
};

/// A transport that calls handlers registered per action, in process, on the sender's thread
/// (so handlers must not block; an asynchronous handler may keep the reply callback and call it
/// later from any thread). Unknown actions get `not_found`. Thread-safe.
class InProcessTransport final : public Transport {
 public:
  using Handler = std::function<Result<nlohmann::json>(const Command&)>;
  using AsyncHandler = std::function<void(const Command&, ReplyCallback)>;
  using Subscriber = std::function<void(const Publication&)>;

  /// Replaces the handler of `action`.
  void on(const std::string& action, Handler handler);
  void on_async(const std::string& action, AsyncHandler handler);
  /// Receives every publication whose topic equals `topic`, or every one when `topic` is "*".
  void subscribe(const std::string& topic, Subscriber subscriber);
  /// Makes publish() fail with `error` while set (nullopt restores success).
  void fail_publications(std::optional<Error> error);

  void send(Command command, ReplyCallback done) override;
  void publish(Publication publication, PublishCallback done) override;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const AsyncHandler>, std::less<>> handlers_;
  std::multimap<std::string, std::shared_ptr<const Subscriber>, std::less<>> subscribers_;
  std::optional<Error> publish_error_;
};

}  // namespace wonderland::workflow
