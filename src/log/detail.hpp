// Internals shared by the log sources.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "wonderland/common/time.hpp"
#include "wonderland/log/record.hpp"

namespace wonderland::log::detail {

/// Appends the human-readable line (see format_line) to `out`, without a newline.
void append_line(std::string& out, SystemTime time, Severity severity, std::string_view service,
                 std::string_view correlation_id, std::string_view message,
                 const nlohmann::json& fields);

/// Replaces every byte sequence of `s` that is not valid UTF-8 by U+FFFD.
void sanitize_utf8(std::string& s);
/// Applies sanitize_utf8 to every string (and key) inside `value`.
void sanitize_utf8(nlohmann::json& value);

}  // namespace wonderland::log::detail
