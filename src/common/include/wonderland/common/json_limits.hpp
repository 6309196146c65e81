// Bounded JSON: limits on nesting depth, string size, value count and text size, checked before
// anything recursive (building the document, dump, copies, comparisons, redaction) touches it.
//
//   auto body = parse_json_bounded(text, JsonLimits::http());
//   if (!body) return body.error();   // invalid_argument: "nesting depth exceeds the limit of 64
//                                     //  (at byte 65)", or "not valid JSON: ..."
//
// The text check is a single iterative pass over the bytes (no recursion, constant stack), so a
// document of 200,000 nested arrays is refused as cheaply as it is read. It counts structure
// only: the syntax is checked by the parse that follows. A document that is already built
// (e.g. from another source) is checked with the same limits by an iterative walk.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "wonderland/common/error.hpp"

namespace wonderland {

struct JsonLimits {
  /// Arrays and objects nested inside each other; the top-level value is depth 1 when it is a
  /// container, 0 when it is a scalar.
  std::size_t max_depth = 64;
  /// Bytes of one string or member name, as written (escapes counted as written).
  std::size_t max_string_bytes = std::size_t{64} * 1024;
  /// Values (scalars, arrays, objects) and member names in the whole document.
  std::size_t max_elements = 100'000;
  /// Bytes of the whole text.
  std::size_t max_bytes = std::size_t{1024} * 1024;

  /// For request bodies from the public HTTP API: depth 64, strings of 64 KiB, 100,000 values,
  /// 1 MiB.
  static constexpr JsonLimits http() { return {}; }
  /// For messages between services (AMQP envelopes): the envelope wraps request data a few
  /// levels deep and may carry whole documents (invoices), so depth 128, strings of 16 MiB,
  /// 2,000,000 values, 64 MiB.
  static constexpr JsonLimits message() {
    return {.max_depth = 128,
            .max_string_bytes = std::size_t{16} * 1024 * 1024,
            .max_elements = 2'000'000,
            .max_bytes = std::size_t{64} * 1024 * 1024};
  }
};

/// Checks JSON text against `limits` in one iterative pass. nullopt when within the limits;
/// otherwise an `invalid_argument` error naming the limit that was exceeded and where, e.g.
/// "nesting depth exceeds the limit of 64 (at byte 65)". The syntax is not checked.
std::optional<Error> check_json_limits(std::string_view text, const JsonLimits& limits = {});

/// Checks a built document against the depth, string and element limits (not max_bytes), with
/// an iterative walk. The error names the limit and the JSON pointer where it was exceeded.
std::optional<Error> check_json_value_limits(const nlohmann::json& value,
                                             const JsonLimits& limits = {});

/// check_json_limits, then nlohmann::json::parse. Errors are `invalid_argument`: a limit
/// message as above, or "not valid JSON: parse error at line 1, column 7: ...".
Result<nlohmann::json> parse_json_bounded(std::string_view text, const JsonLimits& limits = {});

}  // namespace wonderland
