// Input templates: JSON documents whose strings may refer to workflow data.
//
//   "${input.customer_id}"                   the whole string is replaced by the value, keeping
//                                            its JSON type (number, object, array...)
//   "order ${workflow.id} of ${input.name}"  embedded references are interpolated as text
//                                            (strings as-is, other values as compact JSON)
//   "${steps.price.output.lines[0].sku}"     array elements by [i] or .i
//   "${steps.charge.output.payment_id?}"     a trailing '?' makes the reference optional: a
//                                            missing value gives null (or "" when embedded)
//   "$${literal}"                            "$$" writes a single '$'
//
// Object keys are never substituted. A reference to a missing value is an error (code
// `invalid_argument`) naming the reference. The roots a workflow provides are `input`,
// `workflow` (id, definition, version, run), `steps.<id>.output` and, in compensations and
// failure handlers, `failure` (reason, step, code, message, cancelled).
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wonderland/common/error.hpp"
#include "wonderland/common/json_limits.hpp"

namespace wonderland::workflow {

/// The bounds of one template (a step's input, a compensation's input, a workflow's output):
/// nesting depth 32, strings of 64 KiB, 10,000 values. compile() and template_references()
/// refuse a larger template ("template: nesting depth exceeds the limit of 32 (at /a/b)")
/// before walking it, so the recursive code below only sees bounded documents.
inline constexpr JsonLimits kTemplateLimits{.max_depth = 32,
                                            .max_string_bytes = std::size_t{64} * 1024,
                                            .max_elements = 10'000,
                                            .max_bytes = 0};

/// A parsed reference: `steps.price.output.lines[0]` → {steps, price, output, lines, 0}.
struct TemplatePath {
  std::vector<std::string> segments;
  bool optional = false;
  std::string text;  ///< As written between `${` and `}`.
};

/// Parses a reference body (without `${ }`). Also accepts the JSONPath-like `$.a.b` form.
Result<TemplatePath> parse_template_path(std::string_view text);

/// Every reference in a template, in document order, or the first syntax error.
Result<std::vector<TemplatePath>> template_references(const nlohmann::json& tmpl);

/// Follows `segments` from `root`: object members by name, array elements by decimal index.
/// Returns nullptr when a segment is missing.
const nlohmann::json* walk(const nlohmann::json& root, std::span<const std::string> segments);

/// Where a template's references are looked up.
class TemplateScope {
 public:
  virtual ~TemplateScope() = default;
  /// The value at `segments` (never empty), or nullptr when there is none.
  virtual const nlohmann::json* resolve(std::span<const std::string> segments) const = 0;
};

/// A scope over one JSON object whose members are the roots, e.g.
/// {"input": {...}, "steps": {"price": {"output": {...}}}}.
class JsonScope final : public TemplateScope {
 public:
  explicit JsonScope(const nlohmann::json& context) : context_(context) {}
  const nlohmann::json* resolve(std::span<const std::string> segments) const override {
    return walk(context_, segments);
  }

 private:
  const nlohmann::json& context_;
};

/// A template parsed once, to be rendered many times. Copies share the parsed form.
class CompiledTemplate {
 public:
  /// Renders as the empty object.
  CompiledTemplate();
  /// Parses every reference of `tmpl`; fails on the first syntax error.
  static Result<CompiledTemplate> compile(const nlohmann::json& tmpl);
  Result<nlohmann::json> render(const TemplateScope& scope) const;

  struct Node;

 private:
  explicit CompiledTemplate(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

/// Renders a template against a scope.
Result<nlohmann::json> render_template(const nlohmann::json& tmpl, const TemplateScope& scope);
/// Renders a template against a context object (see JsonScope).
Result<nlohmann::json> render_template(const nlohmann::json& tmpl, const nlohmann::json& context);

}  // namespace wonderland::workflow
