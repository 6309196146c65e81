// Stored log records: what the logging service keeps, returns from queries and streams live.
//
// A record is `{timestamp, service, severity, correlation_id, message, fields}` — the same shape
// as the body of a `log.record` envelope on `wonderland.logs` (see wonderland/log/record.hpp),
// and the same six columns as the CSV files. Workflow events of `wonderland.workflow` are turned
// into records too (`record_from_workflow_event`).
//
// Pure code: no broker, no files.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "wonderland/common/time.hpp"

namespace wonderland::log_store {

/// The four severities, ordered: debug < info < warning < error.
enum class Severity : std::uint8_t { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

/// "debug", "info", "warning" or "error".
std::string_view to_string(Severity severity) noexcept;
/// Parses a severity name, case-insensitively. Besides the four names it accepts the spellings
/// trace → debug, warn → warning, err/critical/fatal → error. nullopt otherwise.
std::optional<Severity> parse_severity(std::string_view name) noexcept;
/// Parses a severity name as spdlog spells its levels, case-insensitively: the four names and
/// trace → debug, warn → warning, err and critical → error (not fatal). nullopt otherwise.
std::optional<Severity> parse_spdlog_severity(std::string_view name) noexcept;

/// One stored record. `time` has millisecond precision (what the CSV files keep).
struct Record {
  SystemTime time{};
  std::string service;
  Severity severity = Severity::kInfo;
  std::string correlation_id;  ///< Empty when the record belongs to no flow.
  std::string message;
  nlohmann::json fields = nlohmann::json::object();  ///< Always an object.

  friend bool operator==(const Record&, const Record&) = default;
};

/// `t` truncated (towards the past) to whole milliseconds.
SystemTime floor_to_ms(SystemTime t) noexcept;

/// `{timestamp, service, severity, correlation_id, message, fields}`; timestamp in ISO-8601 UTC
/// with milliseconds.
nlohmann::json to_json(const Record& record);

/// Strict parse of `to_json`'s output (for consumers of query replies and of the live exchange).
/// `timestamp`, `service`, `severity` and `message` are required; `correlation_id` defaults to
/// empty and `fields` to `{}`. Throws std::invalid_argument naming the offending field.
Record record_from_json(const nlohmann::json& j);

/// What a lenient conversion uses when the message lacks a value or carries a malformed one.
struct Defaults {
  SystemTime time{};                    ///< e.g. the envelope's timestamp, else the time of receipt
  std::string service;                  ///< e.g. the envelope's source
  Severity severity = Severity::kInfo;  ///< e.g. from the routing key
  std::string correlation_id;           ///< e.g. the envelope's correlation id
};

/// Lenient conversion of a `log.record` body: never throws, so that no record is lost for a
/// formatting mistake of its sender. Missing or malformed members take `defaults`; a
/// non-string message is kept as its JSON text; a non-object `fields` is kept as
/// `{"value": fields}`; a body that is not an object becomes the message (as JSON text).
Record record_from_log_body(const nlohmann::json& body, const Defaults& defaults);

/// A workflow event as a record: service = `source`, severity = error when the event type
/// contains "failed" (e.g. `workflow.step_failed`), info otherwise; correlation id = `workflow_id`;
/// message = the type plus a short summary of well-known body members (workflow, step, status,
/// reason / error); fields = the body (wrapped as `{"value": body}` when not an object).
Record record_from_workflow_event(std::string_view type, std::string_view source,
                                  std::string_view workflow_id, SystemTime time,
                                  const nlohmann::json& body);

/// Compact JSON text that never throws: invalid UTF-8 is replaced by U+FFFD.
std::string dump_compact(const nlohmann::json& value);

/// Parses the exact form `YYYY-MM-DDTHH:MM:SS.mmmZ` quickly, anything else through
/// wonderland::parse_iso8601. nullopt when malformed.
std::optional<SystemTime> parse_timestamp(std::string_view text) noexcept;

}  // namespace wonderland::log_store
