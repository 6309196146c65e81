// Text helpers of the HTTP internals. Not part of the public API.
#pragma once

#include <boost/beast/core/string.hpp>
#include <string_view>

namespace wonderland::http::detail {

/// Beast's string_view as a std::string_view.
inline std::string_view sv(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

/// ASCII case-insensitive equality (header values such as `100-continue` and `Bearer`).
inline bool iequals(std::string_view a, std::string_view b) {
  return boost::beast::iequals(a, b);
}

}  // namespace wonderland::http::detail
