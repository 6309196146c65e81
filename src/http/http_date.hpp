// HTTP dates (RFC 9110 IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT". Internal.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace wonderland::http::detail {

/// Formats a UTC time as IMF-fixdate.
std::string format_http_date(std::time_t t);
/// The current time as IMF-fixdate, cached per second and thread.
std::string_view http_date_now();
/// Parses IMF-fixdate; nullopt for anything else.
std::optional<std::time_t> parse_http_date(std::string_view text);

}  // namespace wonderland::http::detail
