// Reading workflow definition documents (definition.hpp): the field readers shared by the
// parser, and the checks that run once the whole document is read (template references against
// the step ids). The parser itself (the step tree) is in definition_parser.cpp. A new step kind
// is parsed there and its fields read with FieldReader; a new cross-step rule (e.g. a map step's
// items, a sub-workflow's definition) is checked here.
#pragma once

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "wonderland/workflow/definition.hpp"

namespace wonderland::workflow::detail {

/// Thrown inside the parser; converted to an Error value by parse_definition.
struct Invalid {
  std::string message;
};

/// Reads and checks fields, failing with messages that name the file, the step and the field.
class FieldReader {
 public:
  explicit FieldReader(std::string source) : source_(std::move(source)) {}

  /// Throws Invalid: "<source>: step <where>: field '<field>': <why>".
  [[noreturn]] void fail(const std::string& where, const std::string& field,
                         const std::string& why) const;
  /// Fails on a member of `obj` that is not `allowed` (reported as `prefix` + name).
  void check_fields(const std::string& where, const nlohmann::json& obj,
                    std::initializer_list<const char*> allowed,
                    const std::string& prefix = "") const;
  std::string required_string(const std::string& where, const nlohmann::json& obj,
                              const char* field, const std::string& prefix = "") const;
  /// Milliseconds between `min` and a day.
  std::chrono::milliseconds parse_ms(const std::string& where, const nlohmann::json& v,
                                     const std::string& field, long long min) const;
  /// A retry policy: the fields set in `j` override `base`.
  RetryPolicy parse_retry(const std::string& where, const nlohmann::json& j, RetryPolicy base,
                          const std::string& field) const;

 protected:
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

/// A template whose references are checked once every step id is known.
struct PendingTemplate {
  std::string where;  ///< The step's description for messages.
  std::string field;
  nlohmann::json tmpl;
  std::optional<std::size_t> self;  ///< The step that owns the template.
  bool own_output = false;          ///< May refer to the owner's output (compensations).
  bool failure = false;             ///< May refer to `failure` (compensations, failure handlers).
};

/// Fails unless every reference of the template names something it may use: the input, the
/// workflow's fields, another step's output, or the failure where there is one.
void check_template(const FieldReader& reader, const Definition& def, const PendingTemplate& t);

/// Parses a whole document (definition_parser.cpp); throws Invalid.
std::shared_ptr<const Definition> parse_document(const std::string& source,
                                                 const nlohmann::json& doc);

}  // namespace wonderland::workflow::detail
