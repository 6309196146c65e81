// URL pieces for HTTP handlers: percent-decoding and -encoding, query strings.
//
//   auto q = parse_query("q=alice%20in+wonderland&tag=a&tag=b");   // Result<QueryParams>
//   q->get("q");          // "alice in wonderland"
//   q->all("tag");        // {"a", "b"}
//   "/api/books/" + encode_path_segment(isbn)
//
// Decoding is strict: a '%' not followed by two hex digits is an error, never passed through.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wonderland/common/error.hpp"

namespace wonderland::http {

/// Decodes %XX escapes. With `plus_as_space` (query strings, HTML forms) '+' becomes ' '.
/// Returns nullopt when an escape is malformed. Decoded bytes are not checked for UTF-8.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space = false);

/// Encodes everything but RFC 3986 unreserved characters (ALPHA / DIGIT / "-" / "." / "_" / "~"),
/// so the result is safe as one path segment or one query key or value.
std::string percent_encode(std::string_view text);

/// Alias of percent_encode, named for building Location headers and links.
inline std::string encode_path_segment(std::string_view segment) {
  return percent_encode(segment);
}

/// Decoded query parameters in the order they appeared; a name may repeat.
class QueryParams {
 public:
  QueryParams() = default;
  explicit QueryParams(std::vector<std::pair<std::string, std::string>> items)
      : items_(std::move(items)) {}

  /// The first value of `name`, or nullopt when absent. A bare `flag` has the value "".
  std::optional<std::string_view> get(std::string_view name) const;
  /// Every value of `name`, in order.
  std::vector<std::string_view> all(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

/// Parses `a=1&b=x%20y&c` (without the leading '?'). Empty pieces (`a=1&&b=2`) are skipped;
/// '+' decodes to a space. A malformed escape gives an `invalid_argument` error naming the
/// parameter.
Result<QueryParams> parse_query(std::string_view query);

}  // namespace wonderland::http
