#include "wonderland/workflow/template.hpp"

#include <charconv>
#include <utility>

namespace wonderland::workflow {
namespace {

using nlohmann::json;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

Error syntax_error(std::string_view text, const std::string& why) {
  return Error::of(codes::kInvalidArgument, "reference '${" + std::string(text) + "}': " + why);
}

/// Splits a string into literal text and references. `on_text(std::string_view)` and
/// `on_ref(const TemplatePath&)` return Status; the first error stops the scan.
template <class OnText, class OnRef>
Status scan(std::string_view s, OnText&& on_text, OnRef&& on_ref) {
  std::size_t i = 0;
  std::size_t literal_start = 0;
  auto flush = [&](std::size_t end) -> Status {
    if (end > literal_start)
      return on_text(s.substr(literal_start, end - literal_start));
    return ok_status();
  };
  while (i < s.size()) {
    if (s[i] != '$' || i + 1 >= s.size()) {
      ++i;
      continue;
    }
    if (s[i + 1] == '$') {
      if (auto st = flush(i + 1); !st)
        return st;  // keeps one '$'
      i += 2;
      literal_start = i;
      continue;
    }
    if (s[i + 1] != '{') {
      ++i;
      continue;
    }
    std::size_t close = s.find('}', i + 2);
    if (close == std::string_view::npos) {
      return syntax_error(s.substr(i + 2), "missing '}'");
    }
    if (auto st = flush(i); !st)
      return st;
    auto path = parse_template_path(s.substr(i + 2, close - i - 2));
    if (!path)
      return path.error();
    if (auto st = on_ref(*path); !st)
      return st;
    i = close + 1;
    literal_start = i;
  }
  return flush(s.size());
}

void append_text(std::string& out, const json& value) {
  if (value.is_string()) {
    out += value.get_ref<const std::string&>();
  } else {
    out += value.dump();
  }
}

Result<json> lookup(const TemplatePath& path, const TemplateScope& scope) {
  if (const json* v = scope.resolve(path.segments))
    return *v;
  if (path.optional)
    return json(nullptr);
  return Error::of(codes::kInvalidArgument, "reference '${" + path.text + "}': no such value");
}

Result<json> render_string(const std::string& s, const TemplateScope& scope) {
  if (s.find('$') == std::string::npos)
    return json(s);
  // A string that is exactly one reference keeps the value's JSON type.
  if (s.size() > 3 && s[0] == '$' && s[1] == '{' && s.find('}') == s.size() - 1) {
    auto path = parse_template_path(std::string_view(s).substr(2, s.size() - 3));
    if (!path)
      return path.error();
    return lookup(*path, scope);
  }
  std::string out;
  out.reserve(s.size());
  auto st = scan(
      s,
      [&](std::string_view text) -> Status {
        out.append(text);
        return ok_status();
      },
      [&](const TemplatePath& path) -> Status {
        if (const json* v = scope.resolve(path.segments)) {
          append_text(out, *v);
          return ok_status();
        }
        if (path.optional)
          return ok_status();
        return Error::of(codes::kInvalidArgument,
                         "reference '${" + path.text + "}': no such value");
      });
  if (!st)
    return st.error();
  return json(std::move(out));
}

Status check_template_limits(const json& tmpl) {
  if (auto limit = check_json_value_limits(tmpl, kTemplateLimits))
    return Error::of(codes::kInvalidArgument, "template: " + limit->message);
  return ok_status();
}

Result<json> render_unchecked(const json& tmpl, const TemplateScope& scope);

Status collect(const json& tmpl, std::vector<TemplatePath>& out) {
  if (tmpl.is_string()) {
    return scan(
        tmpl.get_ref<const std::string&>(), [](std::string_view) { return ok_status(); },
        [&](const TemplatePath& path) -> Status {
          out.push_back(path);
          return ok_status();
        });
  }
  if (tmpl.is_structured()) {
    for (const auto& item : tmpl) {
      if (auto st = collect(item, out); !st)
        return st;
    }
  }
  return ok_status();
}

}  // namespace

Result<TemplatePath> parse_template_path(std::string_view text) {
  TemplatePath path;
  path.text = std::string(text);
  std::string_view body = text;
  if (body.starts_with("$."))
    body.remove_prefix(2);
  if (!body.empty() && body.back() == '?') {
    path.optional = true;
    body.remove_suffix(1);
  }
  if (body.empty())
    return syntax_error(text, "empty reference");
  std::size_t i = 0;
  bool expect_name = true;
  while (i < body.size()) {
    char c = body[i];
    if (c == '[') {
      if (expect_name)
        return syntax_error(text, "'[' must follow a name");
      std::size_t close = body.find(']', i);
      if (close == std::string_view::npos || close == i + 1) {
        return syntax_error(text, "bad array index");
      }
      std::string_view digits = body.substr(i + 1, close - i - 1);
      for (char d : digits) {
        if (d < '0' || d > '9')
          return syntax_error(text, "array index must be a number");
      }
      path.segments.emplace_back(digits);
      i = close + 1;
      continue;
    }
    if (c == '.') {
      if (expect_name)
        return syntax_error(text, "empty name");
      expect_name = true;
      ++i;
      continue;
    }
    if (!expect_name)
      return syntax_error(text, "expected '.' or '['");
    std::size_t start = i;
    while (i < body.size() && is_name_char(body[i]))
      ++i;
    if (i == start) {
      return syntax_error(text, std::string("unexpected character '") + body[i] + "'");
    }
    path.segments.emplace_back(body.substr(start, i - start));
    expect_name = false;
  }
  if (expect_name)
    return syntax_error(text, "ends with '.'");
  return path;
}

Result<std::vector<TemplatePath>> template_references(const nlohmann::json& tmpl) {
  if (auto st = check_template_limits(tmpl); !st)
    return st.error();
  std::vector<TemplatePath> out;
  if (auto st = collect(tmpl, out); !st)
    return st.error();
  return out;
}

const nlohmann::json* walk(const nlohmann::json& root, std::span<const std::string> segments) {
  const json* cur = &root;
  for (const std::string& seg : segments) {
    if (cur->is_object()) {
      auto it = cur->find(seg);
      if (it == cur->end())
        return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      std::size_t index = 0;
      auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), index);
      if (ec != std::errc{} || end != seg.data() + seg.size() || index >= cur->size()) {
        return nullptr;
      }
      cur = &(*cur)[index];
    } else {
      return nullptr;
    }
  }
  return cur;
}

struct CompiledTemplate::Node {
  enum class Kind { kLiteral, kReference, kText, kObject, kArray };
  Kind kind = Kind::kLiteral;
  json literal;                     ///< kLiteral: a subtree without references.
  TemplatePath path;                ///< kReference: the string is exactly this reference.
  std::vector<std::string> texts;   ///< kText: literal pieces, one more than `paths`...
  std::vector<TemplatePath> paths;  ///< ...interleaved: texts[0] paths[0] texts[1] ...
  std::vector<std::string> keys;    ///< kObject
  std::vector<Node> children;       ///< kObject (parallel to keys) and kArray
};

namespace {

bool has_reference(const json& j) {
  if (j.is_string())
    return j.get_ref<const std::string&>().find('$') != std::string::npos;
  if (j.is_structured()) {
    for (const auto& item : j) {
      if (has_reference(item))
        return true;
    }
  }
  return false;
}

Result<CompiledTemplate::Node> compile_node(const json& tmpl) {
  using Node = CompiledTemplate::Node;
  Node node;
  if (!has_reference(tmpl)) {
    node.literal = tmpl;
    return node;
  }
  if (tmpl.is_object()) {
    node.kind = Node::Kind::kObject;
    for (auto it = tmpl.begin(); it != tmpl.end(); ++it) {
      auto child = compile_node(it.value());
      if (!child)
        return child.error();
      node.keys.push_back(it.key());
      node.children.push_back(std::move(*child));
    }
    return node;
  }
  if (tmpl.is_array()) {
    node.kind = Node::Kind::kArray;
    for (const auto& item : tmpl) {
      auto child = compile_node(item);
      if (!child)
        return child.error();
      node.children.push_back(std::move(*child));
    }
    return node;
  }
  const std::string& s = tmpl.get_ref<const std::string&>();
  if (s.size() > 3 && s[0] == '$' && s[1] == '{' && s.find('}') == s.size() - 1) {
    auto path = parse_template_path(std::string_view(s).substr(2, s.size() - 3));
    if (!path)
      return path.error();
    node.kind = Node::Kind::kReference;
    node.path = std::move(*path);
    return node;
  }
  node.kind = Node::Kind::kText;
  node.texts.emplace_back();
  auto st = scan(
      s,
      [&](std::string_view text) -> Status {
        node.texts.back().append(text);
        return ok_status();
      },
      [&](const TemplatePath& path) -> Status {
        node.paths.push_back(path);
        node.texts.emplace_back();
        return ok_status();
      });
  if (!st)
    return st.error();
  if (node.paths.empty()) {  // only "$$" escapes
    node.kind = Node::Kind::kLiteral;
    node.literal = node.texts.front();
  }
  return node;
}

Result<json> render_node(const CompiledTemplate::Node& node, const TemplateScope& scope) {
  using Kind = CompiledTemplate::Node::Kind;
  switch (node.kind) {
    case Kind::kLiteral:
      return node.literal;
    case Kind::kReference:
      return lookup(node.path, scope);
    case Kind::kText: {
      std::string out = node.texts[0];
      for (std::size_t i = 0; i < node.paths.size(); ++i) {
        if (const json* v = scope.resolve(node.paths[i].segments)) {
          append_text(out, *v);
        } else if (!node.paths[i].optional) {
          return Error::of(codes::kInvalidArgument,
                           "reference '${" + node.paths[i].text + "}': no such value");
        }
        out += node.texts[i + 1];
      }
      return json(std::move(out));
    }
    case Kind::kObject: {
      json::object_t out;
      for (std::size_t i = 0; i < node.keys.size(); ++i) {
        auto v = render_node(node.children[i], scope);
        if (!v)
          return v;
        out.emplace(node.keys[i], std::move(*v));
      }
      return json(std::move(out));
    }
    case Kind::kArray: {
      json::array_t out;
      out.reserve(node.children.size());
      for (const auto& child : node.children) {
        auto v = render_node(child, scope);
        if (!v)
          return v;
        out.push_back(std::move(*v));
      }
      return json(std::move(out));
    }
  }
  return json();
}

}  // namespace

CompiledTemplate::CompiledTemplate() {
  static const std::shared_ptr<const Node> kEmpty = [] {
    Node n;
    n.literal = json::object();
    return std::make_shared<const Node>(std::move(n));
  }();
  root_ = kEmpty;
}

Result<CompiledTemplate> CompiledTemplate::compile(const nlohmann::json& tmpl) {
  if (auto st = check_template_limits(tmpl); !st)
    return st.error();
  auto node = compile_node(tmpl);
  if (!node)
    return node.error();
  return CompiledTemplate(std::make_shared<const Node>(std::move(*node)));
}

Result<nlohmann::json> CompiledTemplate::render(const TemplateScope& scope) const {
  return render_node(*root_, scope);
}

Result<nlohmann::json> render_template(const nlohmann::json& tmpl, const TemplateScope& scope) {
  if (auto st = check_template_limits(tmpl); !st)
    return st.error();
  return render_unchecked(tmpl, scope);
}

Result<nlohmann::json> render_template(const nlohmann::json& tmpl, const nlohmann::json& context) {
  return render_template(tmpl, JsonScope(context));
}

namespace {

Result<json> render_unchecked(const json& tmpl, const TemplateScope& scope) {
  switch (tmpl.type()) {
    case json::value_t::string:
      return render_string(tmpl.get_ref<const std::string&>(), scope);
    case json::value_t::object: {
      json out = json::object();
      for (auto it = tmpl.begin(); it != tmpl.end(); ++it) {
        auto v = render_unchecked(it.value(), scope);
        if (!v)
          return v;
        out.emplace(it.key(), std::move(*v));
      }
      return out;
    }
    case json::value_t::array: {
      json out = json::array();
      for (const auto& item : tmpl) {
        auto v = render_unchecked(item, scope);
        if (!v)
          return v;
        out.push_back(std::move(*v));
      }
      return out;
    }
    default:
      return tmpl;
  }
}

}  // namespace

}  // namespace wonderland::workflow
