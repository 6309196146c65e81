#include "wonderland/common/json_limits.hpp"

#include <string>
#include <utility>
#include <vector>

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

}  // namespace

std::optional<Error> check_json_limits(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return limit_error("JSON text of " + std::to_string(text.size()) +
                       " bytes exceeds the limit of " + std::to_string(limits.max_bytes) +
                       " bytes");
  }
  std::size_t depth = 0;
  std::size_t elements = 0;
  bool in_scalar = false;  // inside a number or literal (true, false, null)
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[i];
    switch (c) {
      case '[':
      case '{':
        in_scalar = false;
        if (++depth > limits.max_depth) {
          return limit_error("nesting depth exceeds the limit of " +
                             std::to_string(limits.max_depth) + at_byte(i));
        }
        if (++elements > limits.max_elements) {
          return limit_error("number of values exceeds the limit of " +
                             std::to_string(limits.max_elements) + at_byte(i));
        }
        break;
      case ']':
      case '}':
        in_scalar = false;
        if (depth > 0)
          --depth;  // unbalanced: the parse reports it
        break;
      case ',':
      case ':':
        in_scalar = false;
        break;
      case '"': {
        in_scalar = false;
        if (++elements > limits.max_elements) {
          return limit_error("number of values exceeds the limit of " +
                             std::to_string(limits.max_elements) + at_byte(i));
        }
        const std::size_t start = i;
        ++i;
        while (i < n && text[i] != '"') {
          if (text[i] == '\\')
            ++i;  // the escaped byte is never the closing quote
          ++i;
        }
        // i is at the closing quote (or past the end of an unterminated string).
        const std::size_t length = (i < n ? i : n) - start - 1;
        if (length > limits.max_string_bytes) {
          return limit_error("a string of " + std::to_string(length) +
                             " bytes exceeds the limit of " +
                             std::to_string(limits.max_string_bytes) + " bytes" + at_byte(start));
        }
        break;
      }
      default:
        if (is_space(c)) {
          in_scalar = false;
        } else if (!in_scalar) {
          in_scalar = true;
          if (++elements > limits.max_elements) {
            return limit_error("number of values exceeds the limit of " +
                               std::to_string(limits.max_elements) + at_byte(i));
          }
        }
    }
  }
  return std::nullopt;
}

std::optional<Error> check_json_value_limits(const json& value, const JsonLimits& limits) {
  // The pointer of a failing value is rebuilt from the parent links kept in `path`.
  struct Link {
    std::size_t parent;  // index into `path`, or npos for the root
    std::string token;
  };
  std::vector<Link> path;
  std::vector<std::pair<const json*, std::size_t>> stack;  // value, its index in `path`
  auto pointer = [&](std::size_t at) {
    std::vector<const std::string*> tokens;
    for (std::size_t k = at; k != std::string::npos; k = path[k].parent)
      tokens.push_back(&path[k].token);
    std::string out;
    for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
      if (it == tokens.rbegin())
        continue;  // the root has no token
      append_pointer_token(out, **it);
    }
    return out.empty() ? std::string("/") : out;
  };
  std::vector<std::size_t> depths;  // depth of each path entry
  path.push_back({std::string::npos, {}});
  depths.push_back(0);
  stack.emplace_back(&value, 0);
  std::size_t elements = 0;
  while (!stack.empty()) {
    auto [v, at] = stack.back();
    stack.pop_back();
    if (++elements > limits.max_elements) {
      return limit_error("number of values exceeds the limit of " +
                         std::to_string(limits.max_elements) + " (at " + pointer(at) + ")");
    }
    if (v->is_string() && v->get_ref<const std::string&>().size() > limits.max_string_bytes) {
      return limit_error("a string of " + std::to_string(v->get_ref<const std::string&>().size()) +
                         " bytes exceeds the limit of " + std::to_string(limits.max_string_bytes) +
                         " bytes (at " + pointer(at) + ")");
    }
    if (!v->is_structured())
      continue;
    const std::size_t depth = depths[at] + 1;
    if (depth > limits.max_depth) {
      return limit_error("nesting depth exceeds the limit of " + std::to_string(limits.max_depth) +
                         " (at " + pointer(at) + ")");
    }
    // Children are pushed last first, so that they are visited in document order.
    if (v->is_object()) {
      const auto& members = v->get_ref<const json::object_t&>();
      for (auto it = members.rbegin(); it != members.rend(); ++it) {
        const std::string& key = it->first;
        if (key.size() > limits.max_string_bytes) {
          return limit_error(
              "a member name of " + std::to_string(key.size()) + " bytes exceeds the limit of " +
              std::to_string(limits.max_string_bytes) + " bytes (at " + pointer(at) + ")");
        }
        path.push_back({at, key});
        depths.push_back(depth);
        stack.emplace_back(&it->second, path.size() - 1);
      }
    } else {
      const auto& items = v->get_ref<const json::array_t&>();
      for (std::size_t index = items.size(); index-- > 0;) {
        path.push_back({at, std::to_string(index)});
        depths.push_back(depth);
        stack.emplace_back(&items[index], path.size() - 1);
      }
    }
  }
  return std::nullopt;
}

Result<json> parse_json_bounded(std::string_view text, const JsonLimits& limits) {
  if (auto error = check_json_limits(text, limits))
    return std::move(*error);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return Error::of(codes::kInvalidArgument, "not valid JSON: " + clean_message(e.what()));
  }
}

}  // namespace wonderland
