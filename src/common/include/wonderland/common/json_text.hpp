// Compact JSON text, for hot paths (the workflow journal, log records). Equivalent to
// nlohmann::json::dump() (same member order, same escapes) but several times faster, and it never
// throws: invalid UTF-8 in a string is replaced by U+FFFD rather than refused, so one odd reply
// cannot stop the journal.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace wonderland {

/// Appends the compact JSON text of `value` to `out`.
void append_json(std::string& out, const nlohmann::json& value);

/// Appends `text` as a JSON string (quoted and escaped; invalid UTF-8 becomes U+FFFD).
void append_json_string(std::string& out, std::string_view text);

/// The compact JSON text of `value`.
inline std::string to_json_text(const nlohmann::json& value) {
  std::string out;
  append_json(out, value);
  return out;
}

}  // namespace wonderland
