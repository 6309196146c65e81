// Log records: severities, the human-readable line and the broker message.
//
// Every record has a time (UTC), a severity, the service that wrote it, a correlation id (the
// business flow it belongs to; may be empty), a message and structured fields (a JSON object).
//
// On stderr a record is one line:
//   2026-11-26T09:26:12.345Z INFO    orders corr=4b1f... order placed | order_id=42 note="two
//   words"
// On the broker it is an envelope of type `log.record` published to `wonderland.logs` with the
// severity as routing key, whose body is
//   {"timestamp", "service", "severity", "correlation_id", "message", "fields": {...}}.
#pragma once

#include <spdlog/common.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/time.hpp"
#include "wonderland/messaging/envelope.hpp"

namespace wonderland::log {

/// The four severities Wonderland knows; their names are the routing keys on `wonderland.logs`.
enum class Severity { kDebug, kInfo, kWarning, kError };

/// The envelope type of a forwarded record.
inline constexpr const char* kRecordType = "log.record";
/// The envelope type of several forwarded records of one severity in one message: body
/// `{"records": [<to_body>, ...]}`, in the order they were logged (see to_batch_envelope).
inline constexpr const char* kRecordBatchType = "log.records";

/// "debug", "info", "warning" or "error".
std::string_view to_string(Severity severity) noexcept;
/// Parses a severity name, case-insensitively. Besides the four names it accepts spdlog's
/// spellings: trace → debug, warn → warning, err and critical → error. nullopt otherwise.
std::optional<Severity> parse_severity(std::string_view name) noexcept;
/// spdlog level → severity: trace and debug → debug, warn → warning, err and critical → error
/// (`off`, which never labels a message, maps to error).
Severity from_spdlog(spdlog::level::level_enum level) noexcept;
/// Severity → spdlog level: debug, info, warn, err.
spdlog::level::level_enum to_spdlog(Severity severity) noexcept;

/// One log record, as forwarded to the broker.
struct Record {
  SystemTime time{};
  Severity severity = Severity::kInfo;
  std::string service;
  std::string correlation_id;  ///< Empty when the record belongs to no flow.
  std::string message;
  nlohmann::json fields = nlohmann::json::object();  ///< Always an object.
};

/// The human-readable line for `record`, without a trailing newline. Control characters in the
/// message are escaped so that a record is always exactly one line; a field value is written
/// bare when it is a plain word and as JSON otherwise.
std::string format_line(const Record& record);

/// The body of the broker message:
/// `{timestamp, service, severity, correlation_id, message, fields}`. Strings that are not valid
/// UTF-8 have their invalid bytes replaced by U+FFFD, so the body always serializes.
nlohmann::json to_body(const Record& record);

/// The envelope forwarded to the broker: type `log.record`, a fresh message_id and traceparent,
/// `source` = service, `correlation_id` and `timestamp` from the record, body = `to_body`.
messaging::Envelope to_envelope(const Record& record);

/// The envelope of several records, all of one severity (the routing key they travel under):
/// type `log.records`, a fresh message_id and traceparent, `source` = the first record's
/// service, `timestamp` = the first record's time, `correlation_id` empty (each record carries
/// its own), body = `{"records": [to_body(record), ...]}`. Throws std::invalid_argument when
/// `records` is empty.
messaging::Envelope to_batch_envelope(const std::vector<const Record*>& records);

}  // namespace wonderland::log
