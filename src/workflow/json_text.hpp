// Compact JSON text for the journal. Equivalent to nlohmann::json::dump() (same member order,
// same escapes) but several times faster, and it never throws: invalid UTF-8 in a string is
// replaced by U+FFFD rather than refused, so one odd reply cannot stop the journal.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace wonderland::workflow::detail {

/// Appends the compact JSON text of `value` to `out`.
void append_json(std::string& out, const nlohmann::json& value);

/// The compact JSON text of `value`.
inline std::string to_json_text(const nlohmann::json& value) {
  std::string out;
  append_json(out, value);
  return out;
}

}  // namespace wonderland::workflow::detail
