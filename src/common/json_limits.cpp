#include "wonderland/common/json_limits.hpp"

#include <string>
#include <utility>
#include <vector>

#include "wonderland/common/json_parse.hpp"

namespace wonderland {
namespace {

using nlohmann::json;

Error limit_error(std::string what) {
  return Error::of(codes::kInvalidArgument, std::move(what));
}

std::string at_byte(std::size_t offset) {
  return " (at byte " + std::to_string(offset) + ")";
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// "[json.exception.parse_error.101] parse error at ..." -> "parse error at ...".
std::string clean_message(const char* what) {
  std::string m = what;
  if (!m.empty() && m.front() == '[') {
    auto close = m.find("] ");
    if (close != std::string::npos)
      m.erase(0, close + 2);
  }
  return m;
}

/// Appends one JSON pointer reference token ("/a~1b" for "a/b").
void append_pointer_token(std::string& out, std::string_view token) {
  out += '/';
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
}

std::optional<Error> too_many_values(const JsonLimits& limits, const std::string& where) {
  return limit_error("number of values exceeds the limit of " +
                     std::to_string(limits.max_elements) + where);
}

/// What check_json_limits has seen so far of the text.
struct TextCounts {
  std::size_t depth = 0;
  std::size_t elements = 0;
  bool in_scalar = false;  // inside a number or literal (true, false, null)
};

/// The index of the quote that closes the string opening at `start`, or text.size() for an
/// unterminated string.
std::size_t closing_quote(std::string_view text, std::size_t start) {
  const std::size_t n = text.size();
  std::size_t i = start + 1;
  while (i < n && text[i] != '"') {
    if (text[i] == '\\')
      ++i;  // the escaped byte is never the closing quote
    ++i;
  }
  return i < n ? i : n;
}

/// Counts the string opening at `i` and checks its length; leaves `i` at its closing quote.
std::optional<Error> scan_string(std::string_view text, std::size_t& i, TextCounts& counts,
                                 const JsonLimits& limits) {
  counts.in_scalar = false;
  if (++counts.elements > limits.max_elements)
    return too_many_values(limits, at_byte(i));
  const std::size_t start = i;
  i = closing_quote(text, start);
  const std::size_t length = i - start - 1;
  if (length > limits.max_string_bytes) {
    return limit_error("a string of " + std::to_string(length) + " bytes exceeds the limit of " +
                       std::to_string(limits.max_string_bytes) + " bytes" + at_byte(start));
  }
  return std::nullopt;
}

/// Counts what byte `i` of the text opens or closes; a string is skipped whole (`i` ends at its
/// closing quote).
std::optional<Error> scan_byte(std::string_view text, std::size_t& i, TextCounts& counts,
                               const JsonLimits& limits) {
  const char c = text[i];
  switch (c) {
    case '[':
    case '{':
      counts.in_scalar = false;
      if (++counts.depth > limits.max_depth) {
        return limit_error("nesting depth exceeds the limit of " +
                           std::to_string(limits.max_depth) + at_byte(i));
      }
      if (++counts.elements > limits.max_elements)
        return too_many_values(limits, at_byte(i));
      return std::nullopt;
    case ']':
    case '}':
      counts.in_scalar = false;
      if (counts.depth > 0)
        --counts.depth;  // unbalanced: the parse reports it
      return std::nullopt;
    case ',':
    case ':':
      counts.in_scalar = false;
      return std::nullopt;
    case '"':
      return scan_string(text, i, counts, limits);
    default:
      if (is_space(c)) {
        counts.in_scalar = false;
      } else if (!counts.in_scalar) {
        counts.in_scalar = true;
        if (++counts.elements > limits.max_elements)
          return too_many_values(limits, at_byte(i));
      }
      return std::nullopt;
  }
}

/// check_json_value_limits' iterative walk of a built document, depth first in document order.
class ValueWalk {
 public:
  explicit ValueWalk(const JsonLimits& limits) : limits_(limits) {}

  std::optional<Error> run(const json& root) {
    path_.push_back({std::string::npos, {}, 0});
    stack_.emplace_back(&root, 0);
    while (!stack_.empty()) {
      auto [v, at] = stack_.back();
      stack_.pop_back();
      if (auto error = visit(*v, at))
        return error;
    }
    return std::nullopt;
  }

 private:
  /// A value's place: the pointer of a failing value is rebuilt from the parent links.
  struct Link {
    std::size_t parent;  // index into `path_`, or npos for the root
    std::string token;
    std::size_t depth;
  };

  /// The JSON pointer of the value at `path_[at]`.
  std::string pointer(std::size_t at) const {
    std::vector<const std::string*> tokens;
    for (std::size_t k = at; k != std::string::npos; k = path_[k].parent)
      tokens.push_back(&path_[k].token);
    std::string out;
    for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
      if (it == tokens.rbegin())
        continue;  // the root has no token
      append_pointer_token(out, **it);
    }
    return out.empty() ? std::string("/") : out;
  }

  /// Checks one value and queues its children.
  std::optional<Error> visit(const json& v, std::size_t at) {
    if (++elements_ > limits_.max_elements)
      return too_many_values(limits_, " (at " + pointer(at) + ")");
    if (v.is_string() && v.get_ref<const std::string&>().size() > limits_.max_string_bytes) {
      return limit_error("a string of " + std::to_string(v.get_ref<const std::string&>().size()) +
                         " bytes exceeds the limit of " + std::to_string(limits_.max_string_bytes) +
                         " bytes (at " + pointer(at) + ")");
    }
    if (!v.is_structured())
      return std::nullopt;
    const std::size_t depth = path_[at].depth + 1;
    if (depth > limits_.max_depth) {
      return limit_error("nesting depth exceeds the limit of " + std::to_string(limits_.max_depth) +
                         " (at " + pointer(at) + ")");
    }
    if (v.is_object())
      return push_members(v.get_ref<const json::object_t&>(), at, depth);
    push_items(v.get_ref<const json::array_t&>(), at, depth);
    return std::nullopt;
  }

  // Children are pushed last first, so that they are visited in document order.

  std::optional<Error> push_members(const json::object_t& members, std::size_t at,
                                    std::size_t depth) {
    for (auto it = members.rbegin(); it != members.rend(); ++it) {
      const std::string& key = it->first;
      if (key.size() > limits_.max_string_bytes) {
        return limit_error(
            "a member name of " + std::to_string(key.size()) + " bytes exceeds the limit of " +
            std::to_string(limits_.max_string_bytes) + " bytes (at " + pointer(at) + ")");
      }
      push(&it->second, at, key, depth);
    }
    return std::nullopt;
  }

  void push_items(const json::array_t& items, std::size_t at, std::size_t depth) {
    for (std::size_t index = items.size(); index-- > 0;)
      push(&items[index], at, std::to_string(index), depth);
  }

  void push(const json* child, std::size_t parent, std::string token, std::size_t depth) {
    path_.push_back({parent, std::move(token), depth});
    stack_.emplace_back(child, path_.size() - 1);
  }

  const JsonLimits& limits_;
  std::vector<Link> path_;
  std::vector<std::pair<const json*, std::size_t>> stack_;  // value, its index in `path_`
  std::size_t elements_ = 0;
};

}  // namespace

std::optional<Error> check_json_limits(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return limit_error("JSON text of " + std::to_string(text.size()) +
                       " bytes exceeds the limit of " + std::to_string(limits.max_bytes) +
                       " bytes");
  }
  TextCounts counts;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (auto error = scan_byte(text, i, counts, limits))
      return error;
  }
  return std::nullopt;
}

std::optional<Error> check_json_value_limits(const json& value, const JsonLimits& limits) {
  return ValueWalk(limits).run(value);
}

Result<json> parse_json_bounded(std::string_view text, const JsonLimits& limits) {
  if (auto fast = parse_json_fast(text, limits))
    return std::move(*fast);
  if (auto error = check_json_limits(text, limits))
    return std::move(*error);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return Error::of(codes::kInvalidArgument, "not valid JSON: " + clean_message(e.what()));
  }
}

}  // namespace wonderland
