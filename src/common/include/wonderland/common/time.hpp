// Times are UTC and written as ISO-8601 with millisecond precision: 2026-11-26T09:26:12.345Z.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace wonderland {

using SystemTime = std::chrono::system_clock::time_point;

/// Formats a time point as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
std::string format_iso8601(SystemTime t);
/// The current time, formatted as `format_iso8601`.
std::string now_iso8601();
/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or `+00:00`); nullopt when malformed.
std::optional<SystemTime> parse_iso8601(std::string_view s);

}  // namespace wonderland
