#include "wonderland/common/json_parse.hpp"

#include <simdjson.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace wonderland {
namespace {

using nlohmann::json;
namespace dom = simdjson::dom;

/// A parser keeps buffers sized for the largest text it parsed; past this, they are released
/// after the parse, so that one large document does not pin memory in every thread.
constexpr std::size_t kKeptCapacity = std::size_t{1} << 20;

/// The deepest nesting the fast path builds (it recurses once per level); deeper limits take the
/// reference path, whose parser is iterative. Messages allow 128 levels, HTTP bodies 64.
constexpr std::size_t kMaxFastDepth = 256;

/// One thread's parsers (one per depth limit: simdjson checks the depth as it parses) and the
/// padded copy of the text that simdjson reads (it reads whole SIMD blocks past the end).
struct ThreadParsers {
  std::vector<std::pair<std::size_t, std::unique_ptr<dom::parser>>> by_depth;
  std::string padded;

  dom::parser& for_depth(std::size_t max_depth) {
    for (auto& [depth, parser] : by_depth) {
      if (depth == max_depth)
        return *parser;
    }
    by_depth.emplace_back(max_depth, std::make_unique<dom::parser>());
    return *by_depth.back().second;
  }

  void release(std::size_t max_depth) {
    std::erase_if(by_depth, [&](const auto& entry) { return entry.first == max_depth; });
    std::string().swap(padded);
  }
};

json convert(dom::element e);

json convert_object(dom::object members) {
  json out(json::value_t::object);
  auto& map = out.get_ref<json::object_t&>();
  for (auto [key, value] : members)
    map.insert_or_assign(std::string(key), convert(value));  // a repeated name: the last wins
  return out;
}

json convert_array(dom::array items) {
  json out(json::value_t::array);
  auto& vec = out.get_ref<json::array_t&>();
  vec.reserve(items.size());
  for (dom::element item : items)
    vec.push_back(convert(item));
  return out;
}

/// The nlohmann value of a simdjson element. Recursion is bounded by the parser's depth limit.
json convert(dom::element e) {
  switch (e.type()) {
    case dom::element_type::OBJECT:
      return convert_object(dom::object(e));
    case dom::element_type::ARRAY:
      return convert_array(dom::array(e));
    case dom::element_type::STRING:
      return json(std::string(std::string_view(e)));
    case dom::element_type::INT64: {
      // nlohmann gives every non-negative integer as unsigned; the same here.
      const std::int64_t i = int64_t(e);
      return i >= 0 ? json(static_cast<std::uint64_t>(i)) : json(i);
    }
    case dom::element_type::UINT64:
      return json(uint64_t(e));
    case dom::element_type::DOUBLE:
      return json(double(e));
    case dom::element_type::BOOL:
      return json(bool(e));
    case dom::element_type::NULL_VALUE:
      break;
  }
  return json(nullptr);
}

}  // namespace

std::optional<json> parse_json_fast(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes || limits.max_depth > kMaxFastDepth)
    return std::nullopt;
  // Each value and each member name takes at least one byte of text, and a string is no longer
  // than the text: a text shorter than the element and string limits cannot exceed them, and
  // simdjson checks the depth. Only a longer text needs the counting pass.
  if ((text.size() > limits.max_string_bytes || text.size() > limits.max_elements) &&
      check_json_limits(text, limits)) {
    return std::nullopt;
  }
  thread_local ThreadParsers parsers;
  dom::parser& parser = parsers.for_depth(limits.max_depth);
  if (parser.max_depth() != limits.max_depth || parser.capacity() < text.size()) {
    if (parser.allocate(std::max(parser.capacity(), text.size()), limits.max_depth) !=
        simdjson::SUCCESS) {
      return std::nullopt;
    }
  }
  parsers.padded.resize(text.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(parsers.padded.data(), text.data(), text.size());
  std::optional<json> out;
  dom::element root;
  if (parser.parse(parsers.padded.data(), text.size(), false).get(root) == simdjson::SUCCESS)
    out = convert(root);
  if (parser.capacity() > kKeptCapacity)
    parsers.release(limits.max_depth);
  return out;
}

json parse_stored_json(std::string_view text) {
  if (auto fast = parse_json_fast(text, JsonLimits::message()))
    return std::move(*fast);
  return json::parse(text, nullptr, false);
}

}  // namespace wonderland
