// Structured logging for every Wonderland process.
//
// Overview
//   log::init({.service = "orders"});                     // level from WONDERLAND_LOG_LEVEL
//   log::info("listening on port {}", port);
//   log::warn(log::Corr{order.correlation_id}, "stock low for {}", sku);
//   log::event(log::Severity::kInfo, "order placed").corr(id).field("order_id", order_id);
//   {
//     log::CorrelationScope scope(envelope.correlation_id);  // for records without explicit id
//     log::info("handling {}", envelope.type);
//   }
//   messaging::Connection conn(...);
//   auto forwarding = log::attach_broker(std::make_shared<log::AmqpLogPublisher>(conn));
//
// Records go to a process-wide spdlog logger (also installed as spdlog's default logger, so
// plain `spdlog::info(...)` calls are formatted the same way) whose sinks write one line per
// record to stderr and, once a broker is attached, forward each record to the exchange
// `wonderland.logs` (routing key = severity; see record.hpp and forwarder.hpp).
//
// Guarantees
//   * Logging calls never wait for the broker and never throw: forwarding goes through a
//     bounded queue, and records that do not fit are dropped and counted (`stats()`).
//   * The correlation id of a record is the explicit one when given and not empty, otherwise
//     the innermost `CorrelationScope` of the calling thread, otherwise empty.
//   * Every function here is thread-safe. Logging before `init` uses defaults (service
//     "wonderland", level from the environment).
//
// Never log secrets (see secrets.hpp).
#pragma once

#include <fmt/format.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "wonderland/log/forwarder.hpp"
#include "wonderland/log/publisher.hpp"
#include "wonderland/log/record.hpp"
#include "wonderland/log/secrets.hpp"

namespace wonderland::log {

/// The environment variable holding the level: debug, info, warning or error.
inline constexpr const char* kLevelEnv = "WONDERLAND_LOG_LEVEL";

struct Options {
  /// Names the process in every record.
  std::string service = "wonderland";
  /// Records below it are discarded. Unset: WONDERLAND_LOG_LEVEL, or info when that is unset.
  std::optional<Severity> level;
  /// Forwarding to the broker (queue capacity, back-off, drop reports, flush timeout).
  ForwarderOptions broker;
  /// Where the human-readable lines go; null means stderr. Its formatter is replaced.
  std::shared_ptr<spdlog::sinks::sink> console;
};

/// Sets up (or replaces) the process-wide logger. A broker attached before is detached first
/// (see `shutdown`). Throws std::invalid_argument when `options.level` is unset and
/// WONDERLAND_LOG_LEVEL holds something that is not a level.
void init(Options options);

/// Detaches the broker, publishing what is queued for at most `timeout` (default: the
/// options' flush_timeout). Logging keeps working on the console. Returns whether every queued
/// record was published (true when no broker was attached).
bool shutdown(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

/// Keeps a broker attached; detaches it on destruction (see `attach_broker`).
class [[nodiscard]] BrokerAttachment {
 public:
  BrokerAttachment() = default;
  BrokerAttachment(std::weak_ptr<BrokerForwarder> forwarder, std::uint64_t id)
      : forwarder_(std::move(forwarder)), id_(id) {}
  BrokerAttachment(BrokerAttachment&& other) noexcept
      : forwarder_(std::move(other.forwarder_)), id_(other.id_) {
    other.forwarder_.reset();
  }
  BrokerAttachment& operator=(BrokerAttachment&& other) noexcept;
  BrokerAttachment(const BrokerAttachment&) = delete;
  BrokerAttachment& operator=(const BrokerAttachment&) = delete;
  ~BrokerAttachment() { detach(); }

  /// Detaches now, flushing for at most `timeout` (default: the options' flush_timeout);
  /// returns whether every queued record was published. Idempotent. Does nothing when `init`
  /// has replaced the logger since.
  bool detach(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

 private:
  std::weak_ptr<BrokerForwarder> forwarder_;
  std::uint64_t id_ = 0;
};

/// Starts forwarding every record to `publisher` as well as to the console (replacing any
/// previous publisher). The publisher must stay usable until the returned attachment is
/// destroyed or detached, or `shutdown` or `init` is called — declare the attachment after the
/// connection it publishes on, so that it is destroyed first.
BrokerAttachment attach_broker(std::shared_ptr<LogPublisher> publisher);

/// Waits up to `timeout` until every record logged so far has been published to the broker.
/// Returns true at once when no broker is attached.
bool flush(std::chrono::milliseconds timeout);

/// Forwarding counters (all zero before any broker was attached since `init`).
Stats stats();

/// Whether a record of `severity` would be written.
bool enabled(Severity severity);
void set_level(Severity severity);
Severity level();

/// The process-wide spdlog logger.
std::shared_ptr<spdlog::logger> logger();

/// Writes one record. `correlation_id` empty: the thread's CorrelationScope applies. `fields`
/// should be an object (anything else becomes the field `value`). Never throws.
void write(Severity severity, std::string_view correlation_id, std::string_view message,
           const nlohmann::json& fields) noexcept;
/// Writes one record without fields.
void write(Severity severity, std::string_view correlation_id, std::string_view message) noexcept;

// ---- Correlation ----------------------------------------------------------------------------

/// Marks the correlation id of records written by the current thread while it lives, when
/// they carry none explicitly. Scopes nest; the innermost wins (an empty id hides the enclosing
/// ones). Must be destroyed on the thread that created it, in reverse order of creation (a
/// local variable does both).
class CorrelationScope {
 public:
  explicit CorrelationScope(std::string correlation_id);
  ~CorrelationScope();
  CorrelationScope(const CorrelationScope&) = delete;
  CorrelationScope& operator=(const CorrelationScope&) = delete;

 private:
  std::string id_;
  const std::string* previous_;
};

/// The innermost CorrelationScope's id on this thread; empty when there is none.
std::string_view current_correlation_id() noexcept;

/// An explicit correlation id as first argument of `debug`/`info`/`warn`/`error`. Explicit
/// (and not a plain string) so that it can never be mistaken for the format string.
struct Corr {
  explicit Corr(std::string_view correlation_id) : id(correlation_id) {}
  std::string_view id;
};

// ---- Formatted messages -------------------------------------------------------------------
//
// The format string follows fmt's syntax and is checked at compile time. Arguments are only
// formatted when the severity is enabled.

namespace detail {
template <class... Args>
void format_and_write(Severity severity, std::string_view correlation_id,
                      fmt::format_string<Args...> format, Args&&... args) noexcept {
  if (!enabled(severity))
    return;
  try {
    write(severity, correlation_id, fmt::format(format, std::forward<Args>(args)...));
  } catch (...) {  // a throwing formatter of a user type must not take the caller down
    const fmt::string_view raw = format;
    write(severity, correlation_id, std::string_view(raw.data(), raw.size()));
  }
}
}  // namespace detail

template <class... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) noexcept {
  detail::format_and_write(Severity::kDebug, {}, format, std::forward<Args>(args)...);
}
template <class... Args>
void debug(Corr corr, fmt::format_string<Args...> format, Args&&... args) noexcept {
  detail::format_and_write(Severity::kDebug, corr.id, format, std::forward<Args>(args)...);
}
template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) noexcept {
  detail::format_and_write(Severity::kInfo, {}, format, std::forward<Args>(args)...);
}
template <class... Args>
void info(Corr corr, fmt::format_string<Args...> format, Args&&... args) noexcept {
  detail::format_and_write(Severity::kInfo, corr.id, format, std::forward<Args>(args)...);
}
template <class... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) noexcept {
  detail::format_and_write(Severity::kWarning, {}, format, std::forward<Args>(args)...);
}
template <class... Args>
void warn(Corr corr, fmt::format_string<Args...> format, Args&&... args) noexcept {
  detail::format_and_write(Severity::kWarning, corr.id, format, std::forward<Args>(args)...);
}
template <class... Args>
void error(fmt::format_string<Args...> format, Args&&... args) noexcept {
  detail::format_and_write(Severity::kError, {}, format, std::forward<Args>(args)...);
}
template <class... Args>
void error(Corr corr, fmt::format_string<Args...> format, Args&&... args) noexcept {
  detail::format_and_write(Severity::kError, corr.id, format, std::forward<Args>(args)...);
}

// ---- Structured records -------------------------------------------------------------------

/// A record under construction; it is written when destroyed (normally at the end of the
/// statement that built it) or by `emit`, exactly once:
///   log::event(Severity::kInfo, "order placed").corr(id).field("order_id", oid);
/// Field values are anything nlohmann::json accepts. When the severity is disabled, building
/// costs next to nothing and nothing is written.
class Event {
 public:
  Event(Severity severity, std::string message);
  Event(Event&& other) noexcept;
  Event& operator=(Event&&) = delete;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { emit(); }

  /// Sets the correlation id (empty: the thread's CorrelationScope applies).
  Event& corr(std::string_view correlation_id) &;
  Event&& corr(std::string_view correlation_id) && { return std::move(corr(correlation_id)); }
  /// Adds (or replaces) one field.
  Event& field(std::string_view key, nlohmann::json value) &;
  Event&& field(std::string_view key, nlohmann::json value) && {
    return std::move(field(key, std::move(value)));
  }
  /// Adds every member of `object`; a value that is not an object becomes the field `value`.
  Event& fields(const nlohmann::json& object) &;
  Event&& fields(const nlohmann::json& object) && { return std::move(fields(object)); }

  /// Writes the record now; later calls (and the destructor) do nothing.
  void emit() noexcept;

 private:
  Severity severity_;
  bool pending_;
  std::string correlation_id_;
  std::string message_;
  nlohmann::json fields_;
};

/// Starts a structured record (see Event).
inline Event event(Severity severity, std::string message) {
  return Event(severity, std::move(message));
}

}  // namespace wonderland::log
