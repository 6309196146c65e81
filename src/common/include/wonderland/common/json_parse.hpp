// The fast path of every bounded JSON parse: messages between services, HTTP request bodies.
//
//   if (auto doc = parse_json_fast(text, JsonLimits::message()))
//     use(*doc);
//   else
//     ... the reference path: check_json_limits, then nlohmann::json::parse, for the exact error
//
// simdjson validates the text (structure, UTF-8, escapes, numbers, depth) in a few hundred
// nanoseconds, then one walk of its tape builds the nlohmann document that the rest of the code
// uses. It accepts a subset of what nlohmann accepts and builds the same document from it; what
// it refuses (invalid JSON, a limit exceeded, integers beyond 64 bits, a byte-order mark, a
// depth limit above 256) comes back as nullopt, and the caller's reference path then gives the
// document or the error it always gave. So the fast path changes the cost of a parse, never its
// outcome.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "wonderland/common/json_limits.hpp"

namespace wonderland {

/// The document of `text` when it is valid JSON within `limits` and simdjson accepts it;
/// nullopt otherwise (see above). Thread-safe: each thread keeps its own parser.
std::optional<nlohmann::json> parse_json_fast(std::string_view text, const JsonLimits& limits);

/// For JSON text this system wrote itself and stored (journal records, recorded replies):
/// `nlohmann::json::parse(text, nullptr, false)`, a discarded value when the text is not valid
/// JSON, on the fast path whenever the text is within the message limits.
nlohmann::json parse_stored_json(std::string_view text);

}  // namespace wonderland
