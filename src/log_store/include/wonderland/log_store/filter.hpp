// Which records a query or a live stream wants. One type for both, so that the logging
// service's RPC and the mediator's `GET /api/logs` / `GET /api/logs/stream` agree exactly.
//
// Parameters (query-string names = JSON member names; every one is optional and all given ones
// must match):
//   service         exact, case-sensitive service name
//   severity        exact severity: debug | info | warning | error (also trace, warn, err, ...)
//   min_severity    the severity or anything more severe (min_severity=warning: warning, error)
//   correlation_id  exact correlation (workflow/order) id
//   text            case-insensitive substring of the message; ASCII letters are folded, other
//                   characters (e.g. "Müller") must match exactly
//   since           ISO-8601 UTC time, inclusive: record time >= since
//   until           ISO-8601 UTC time, exclusive: record time <  until
// An empty value means "not given". Bad values are refused with an `invalid_argument` Error
// whose message names the parameter.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "wonderland/common/error.hpp"
#include "wonderland/log_store/record.hpp"

namespace wonderland::log_store {

struct Filter {
  std::optional<std::string> service;
  std::optional<Severity> severity;      ///< exact
  std::optional<Severity> min_severity;  ///< at least
  std::optional<std::string> correlation_id;
  std::optional<std::string> text;  ///< case-insensitive (ASCII) substring of the message
  std::optional<SystemTime> since;  ///< inclusive
  std::optional<SystemTime> until;  ///< exclusive

  /// From query-string parameters (already percent-decoded). Names other than the seven above
  /// are ignored, so the caller can pass the whole query string (limit, cursor...).
  static Result<Filter> from_params(const std::map<std::string, std::string>& params);
  /// From a JSON object with the same member names (string values; null = not given). Members
  /// other than the seven are ignored here; Query::from_json refuses unknown ones.
  static Result<Filter> from_json(const nlohmann::json& j);
  /// The given parameters as a JSON object (round-trips through from_json).
  nlohmann::json to_json() const;

  /// Whether the record satisfies every given condition. Thread-safe (const, no state).
  bool matches(const Record& record) const;
  /// Whether nothing is filtered.
  bool empty() const;

  friend bool operator==(const Filter&, const Filter&) = default;
};

/// Whether `needle` occurs in `haystack`, comparing ASCII letters case-insensitively (an empty
/// needle occurs everywhere).
bool contains_ignoring_case(std::string_view haystack, std::string_view needle) noexcept;

}  // namespace wonderland::log_store
